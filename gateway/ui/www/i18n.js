/* i18n.js: the interface's words in Chinese (default) and English. HUREN.t(key, a, b) returns
 * the text in the current language with {0}, {1} replaced; the language is remembered in
 * localStorage and switched by the button in the header. */
"use strict";
window.HUREN = window.HUREN || {};
HUREN.dict = {
  zh: {
    "brand": "检查检验结果互认", "nav.patient": "患者", "nav.stats": "统计", "lang": "English",
    "loading": "加载中…", "error": "出错了：{0}", "back": "返回",
    "index.title": "查找患者", "index.hint": "输入本院患者号或居民身份证号",
    "id.label": "患者号 / 身份证号", "open": "打开",
    "id.empty": "请输入患者号或身份证号",
    "id.chars": "患者号只能包含字母、数字、“.”、“_”、“-”（1–64 个字符），或为 18 位居民身份证号",
    "id.len": "身份证号应为 18 位（或旧式 15 位）",
    "id.region": "身份证号的地区码 {0} 无效",
    "id.date": "身份证号中的出生日期 {0} 不是有效日期",
    "id.future": "身份证号中的出生日期 {0} 在未来",
    "id.check": "身份证号校验位为 {0}，应为 {1}，请核对",
    "patient.title": "患者 {0}", "patient.unknown": "未找到该患者的结果",
    "timeline": "结果时间轴", "kind.imaging": "影像", "kind.lab": "检验",
    "here": "本院", "open.study": "查看影像", "open.report": "查看报告",
    "study.title": "影像检查", "series": "序列", "images": "{0} 幅", "details": "检查信息",
    "study.date": "检查日期", "modality": "设备", "description": "描述", "accession": "检查号",
    "patient": "患者", "institution": "机构", "series.number": "序列号", "body.part": "部位",
    "img.failed": "图像无法显示", "img.pos": "第 {0} / {1} 幅", "window": "窗宽 {0} 窗位 {1}",
    "preset.default": "默认", "preset.lung": "肺窗", "preset.mediastinum": "纵隔窗",
    "preset.bone": "骨窗", "preset.brain": "脑窗", "preset.abdomen": "腹部窗",
    "viewer.help": "拖动鼠标调节窗宽（左右）和窗位（上下）；滚轮或方向键翻页",
    "noseries": "此检查没有序列", "study.missing": "未找到该检查",
    "report.title": "检验报告", "item": "项目", "result": "结果", "unit": "单位",
    "range": "参考范围", "flag": "提示", "earlier": "历次结果", "report.missing": "未找到该报告",
    "date": "日期", "orderer": "申请科室", "status": "状态",
    "rec.title": "结果互认提示", "rec.ask": "其他医院的结果（按申请项目）",
    "rec.ask.hint": "项目编码或名称，如 胸部CT平扫", "rec.item": "本次申请：{0}", "rec.none": "没有可互认的结果",
    "rec.valid": "可互认至 {0}", "rec.expired": "已过期", "rec.accept": "互认",
    "rec.reject": "不互认", "rec.reason": "不互认原因", "rec.other": "请说明原因",
    "rec.confirm": "确认不互认", "rec.saved": "已记录：{0}（编号 {1}）",
    "rec.accepted": "互认", "rec.rejected": "不互认", "rec.need.other": "请填写“其他”的原因",
    "rec.unavailable": "{0} 暂不可用（{1}）", "rec.hr": "互认范围：{0}",
    "rec.validity": "有效期 {0} 天",
    "rec.fetch.study": "调取影像", "rec.fetch.report": "调取报告", "rec.fetching": "正在调取…",
    "rec.fetch.done": "已调取 {0} 幅图像", "rec.fetch.count": "已收到 {0} 幅", "rec.fetch.failed": "调取失败：{0}",
    "rec.fetch.partial": "（已收到 {0} 幅，可重试）", "rec.missing": "缺少参数：patient 和 item",
    "reason.condition_changed": "病情变化", "reason.fast_changing": "指标变化快",
    "reason.pre_surgery_transfusion": "手术/输血前", "reason.emergency": "急诊抢救",
    "reason.judicial_appraisal": "司法鉴定", "reason.lab_failed_qc": "检验机构质控不合格",
    "reason.too_old": "结果时间过久", "reason.patient_request": "患者要求",
    "reason.other": "其他",
    "stats.title": "互认统计", "stats.from": "从", "stats.to": "至", "stats.show": "查询",
    "stats.by.item": "按项目", "stats.by.department": "按科室", "stats.by.month": "按月份",
    "stats.by.institution": "按机构", "stats.csv": "下载 CSV", "stats.key": "分组",
    "stats.prompts": "提示次数", "stats.shown": "展示结果", "stats.accepted": "互认",
    "stats.rejected": "不互认", "stats.rate": "互认率", "stats.reasons": "不互认原因",
    "stats.empty": "该时段没有数据", "stats.unavailable": "统计接口不可用：{0}",
    "region.title": "各医院的结果（按项目）", "region.none": "其他医院没有该患者的结果",
    "region.unavailable": "暂不能查询其他医院的结果：{0}",
    "origin.local": "本院", "origin.other": "外院", "origin.copy": "已调阅副本",
    "part.images": "影像", "part.report": "报告", "region.uncatalogued": "未编目的{0}结果"
  },
  en: {
    "brand": "Result recognition", "nav.patient": "Patient", "nav.stats": "Statistics",
    "lang": "中文", "loading": "Loading…", "error": "Error: {0}", "back": "Back",
    "index.title": "Find a patient", "index.hint": "Local patient ID or resident ID number",
    "id.label": "Patient ID / resident ID", "open": "Open",
    "id.empty": "Enter a patient ID or resident ID",
    "id.chars": "A patient ID has 1–64 letters, digits, '.', '_' or '-', or is an 18-character resident ID",
    "id.len": "A resident ID has 18 characters (or 15 for the old format)",
    "id.region": "The region code {0} of the resident ID is not valid",
    "id.date": "The birth date {0} in the resident ID is not a real date",
    "id.future": "The birth date {0} in the resident ID is in the future",
    "id.check": "The resident ID's check character is {0}, expected {1}: please check it",
    "patient.title": "Patient {0}", "patient.unknown": "No results found for this patient",
    "timeline": "Timeline", "kind.imaging": "Imaging", "kind.lab": "Lab",
    "here": "This hospital", "open.study": "Images", "open.report": "Report",
    "study.title": "Imaging study", "series": "Series", "images": "{0} images",
    "details": "Study details", "study.date": "Study date", "modality": "Modality",
    "description": "Description", "accession": "Accession", "patient": "Patient",
    "institution": "Institution", "series.number": "Series no.", "body.part": "Body part",
    "img.failed": "Image could not be shown", "img.pos": "Image {0} / {1}",
    "window": "W {0} C {1}", "preset.default": "Default", "preset.lung": "Lung",
    "preset.mediastinum": "Mediastinum", "preset.bone": "Bone", "preset.brain": "Brain",
    "preset.abdomen": "Abdomen",
    "viewer.help": "Drag: width (left/right) and level (up/down); wheel or arrow keys: next/previous image",
    "noseries": "This study has no series", "study.missing": "Study not found",
    "report.title": "Lab report", "item": "Item", "result": "Result", "unit": "Unit",
    "range": "Reference range", "flag": "Flag", "earlier": "Earlier results",
    "report.missing": "Report not found", "date": "Date", "orderer": "Ordering department",
    "status": "Status",
    "rec.title": "Recognition prompt", "rec.ask": "Other hospitals' results for item",
    "rec.ask.hint": "item code or name, e.g. 胸部CT平扫", "rec.item": "Ordered: {0}",
    "rec.none": "No recognisable results", "rec.valid": "Recognisable until {0}",
    "rec.expired": "Expired", "rec.accept": "Recognise", "rec.reject": "Do not recognise",
    "rec.reason": "Reason", "rec.other": "Please explain", "rec.confirm": "Confirm",
    "rec.saved": "Recorded: {0} (id {1})", "rec.accepted": "recognised",
    "rec.rejected": "not recognised", "rec.need.other": "Please explain the reason 'other'",
    "rec.unavailable": "{0} unavailable ({1})", "rec.hr": "Scope: {0}",
    "rec.validity": "valid {0} days",
    "rec.fetch.study": "Fetch images", "rec.fetch.report": "Fetch report",
    "rec.fetching": "Fetching…", "rec.fetch.count": "{0} images received", "rec.fetch.done": "{0} images fetched",
    "rec.fetch.failed": "Fetch failed: {0}", "rec.fetch.partial": "({0} received; retry)", "rec.missing": "Missing parameters: patient and item",
    "reason.condition_changed": "Condition changed", "reason.fast_changing": "Fast-changing value",
    "reason.pre_surgery_transfusion": "Before surgery/transfusion", "reason.emergency": "Emergency",
    "reason.judicial_appraisal": "Judicial appraisal", "reason.lab_failed_qc": "Lab failed QC",
    "reason.too_old": "Too old", "reason.patient_request": "Patient's request",
    "reason.other": "Other",
    "stats.title": "Recognition statistics", "stats.from": "From", "stats.to": "To",
    "stats.show": "Show", "stats.by.item": "By item", "stats.by.department": "By department",
    "stats.by.month": "By month", "stats.by.institution": "By institution",
    "stats.csv": "Download CSV", "stats.key": "Group", "stats.prompts": "Prompts",
    "stats.shown": "Results shown", "stats.accepted": "Recognised",
    "stats.rejected": "Not recognised", "stats.rate": "Rate", "stats.reasons": "Reasons",
    "stats.empty": "No data in this period", "stats.unavailable": "Statistics unavailable: {0}",
    "region.title": "Results at every hospital (by item)",
    "region.none": "No results of this patient at other hospitals",
    "region.unavailable": "Other hospitals' results cannot be asked now: {0}",
    "origin.local": "This hospital", "origin.other": "Other hospital",
    "origin.copy": "Retrieved copy", "part.images": "Images", "part.report": "Report",
    "region.uncatalogued": "Uncatalogued {0} results"
  }
};
HUREN.lang = (function () {
  var q = new URLSearchParams(location.search).get("lang");
  var l = q || (window.localStorage && localStorage.getItem("huren.lang")) || "zh";
  return HUREN.dict[l] ? l : "zh";
})();
HUREN.t = function (key) {
  var s = HUREN.dict[HUREN.lang][key];
  if (s === undefined) s = HUREN.dict.zh[key] !== undefined ? HUREN.dict.zh[key] : key;
  var args = arguments;
  return s.replace(/\{(\d)\}/g, function (m, i) {
    var v = args[+i + 1];
    return v === undefined ? m : String(v);
  });
};
