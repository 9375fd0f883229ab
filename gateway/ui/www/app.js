/* app.js: the core of the doctors' web page: DOM and fetch helpers, the identity check that
 * mirrors gateway/identity.c (the server validates again), and the index, patient and lab
 * report views. viewer.js and recognition.js add their views to HUREN.pages. */
"use strict";
(function () {
  var H = window.HUREN, t = H.t;
  H.pages = H.pages || {};

  /* h("div", {class: "x"}, child, "text", ...): builds elements; text is never parsed as HTML. */
  H.h = function (tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  };
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(function (x) { append(el, x); });
    else el.appendChild(c.nodeType ? c : document.createTextNode(String(c)));
  }
  var h = H.h;
  H.params = new URLSearchParams(location.search);
  H.main = function () { return document.getElementById("main"); };
  H.show = function () {
    var m = H.main();
    m.textContent = "";
    for (var i = 0; i < arguments.length; i++) append(m, arguments[i]);
  };
  H.message = function (text, cls) { return h("p", {class: "msg " + (cls || "error")}, text); };

  /* GET/POST JSON: resolves {status, body}; body is the parsed JSON or null. */
  H.api = function (path, opts) {
    opts = opts || {};
    var init = {method: opts.method || "GET", headers: {"Accept": "application/json"},
                credentials: "same-origin"};
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      init.headers["Content-Type"] = "application/json";
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (txt) {
        var body = null;
        try { body = txt ? JSON.parse(txt) : null; } catch (e) { body = null; }
        return {status: r.status, body: body};
      });
    }, function (e) { return {status: 0, body: {error: String(e)}}; });
  };
  H.errText = function (r) {
    return (r.body && r.body.error) || ("HTTP " + r.status);
  };
  H.enc = encodeURIComponent;

  /* "20240105080000" or "2024-01-05" -> "2024-01-05" */
  H.fmtDate = function (s) {
    if (!s) return "";
    s = String(s);
    if (/^\d{8}/.test(s)) return s.slice(0, 4) + "-" + s.slice(4, 6) + "-" + s.slice(6, 8);
    return s.slice(0, 10);
  };
  H.today = function () {
    var d = new Date();
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
  };

  /* The identity check of gateway/identity.c: returns null if id is acceptable (a local id, or
   * a resident ID with a valid region, birth date and check character), else a message. */
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  H.checkChar = function (first17) {
    var s = 0;
    for (var i = 0; i < 17; i++) s += (+first17[i]) * WEIGHTS[i];
    return "10X98765432"[s % 11];
  };
  function realDate(ymd) {
    var y = +ymd.slice(0, 4), m = +ymd.slice(4, 6), d = +ymd.slice(6, 8);
    var dt = new Date(Date.UTC(y, m - 1, d));
    return y >= 1900 && dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 &&
      dt.getUTCDate() === d;
  }
  H.normaliseId = function (s) {
    return String(s || "").replace(/[\uFF10-\uFF19]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFF10 + 48);
    }).replace(/[\uFF38\uFF58x]/g, "X").replace(/[\s-]/g, "");
  };
  H.validateId = function (raw) {
    var s = String(raw || "").trim();
    if (!s) return t("id.empty");
    var n = H.normaliseId(s);
    var looksResident = /^\d{15}$/.test(n) || /^\d{17}[\dX]$/.test(n);
    if (!looksResident) {
      if (/^\d{16,19}X?$/.test(n)) return t("id.len");
      return /^[A-Za-z0-9._-]{1,64}$/.test(s) ? null : t("id.chars");
    }
    if (n.length === 15) n = n.slice(0, 6) + "19" + n.slice(6) + "?";
    if (n[0] === "0") return t("id.region", n.slice(0, 6));
    var birth = n.slice(6, 14);
    if (!realDate(birth)) return t("id.date", birth);
    if (birth > H.today().replace(/-/g, "")) return t("id.future", birth);
    if (n[17] !== "?") {
      var want = H.checkChar(n.slice(0, 17));
      if (n[17] !== want) return t("id.check", n[17], want);
    }
    return null;
  };

  /* A form asking for a patient id; opens /ui/patient?id=... after the check above. */
  H.idForm = function (value, error) {
    var input = h("input", {id: "pid", name: "id", autocomplete: "off", value: value || "",
                            "aria-label": t("id.label"), placeholder: t("index.hint")});
    var msg = h("p", {id: "id-error", class: "msg error", role: "alert"}, error || "");
    if (!error) msg.hidden = true;
    var form = h("form", {class: "idform", action: "/ui/patient", method: "get",
      onsubmit: function (ev) {
        var e = H.validateId(input.value);
        if (e) {
          ev.preventDefault();
          msg.textContent = e;
          msg.hidden = false;
        }
      }}, h("label", {for: "pid"}, t("id.label")), input,
      h("button", {type: "submit"}, t("open")));
    return h("div", null, form, msg);
  };

  H.pages.index = function () {
    H.show(h("h1", null, t("index.title")), H.idForm(""));
  };

  /* /ui/patient?id=: the patient's studies and lab reports, newest first. */
  H.pages.patient = function () {
    var id = H.params.get("id") || "";
    var err = H.validateId(id);
    if (err) {
      H.show(h("h1", null, t("index.title")), H.idForm(id, err));
      return;
    }
    H.show(h("h1", null, t("patient.title", id)), h("p", {class: "muted"}, t("loading")));
    H.api("/api/v1/patients/" + H.enc(id) + "/reports").then(function (rr) {
      var local = (rr.body && rr.body.patient_id) || id;
      var reports = rr.status === 200 && rr.body ? rr.body.entry || [] : [];
      return H.api("/dicom-web/studies?PatientID=" + H.enc(local)).then(function (sr) {
        var studies = sr.status === 200 && Array.isArray(sr.body) ? sr.body : [];
        var problems = [];
        if (rr.status !== 200 && rr.status !== 404) problems.push(H.errText(rr));
        if (sr.status !== 200 && sr.status !== 204) problems.push(H.errText(sr));
        drawTimeline(id, local, studies, reports, problems);
      });
    });
  };

  H.tag = function (ds, tag) { /* first value of a DICOM JSON attribute */
    var a = ds && ds[tag];
    var v = a && a.Value && a.Value[0];
    if (v && typeof v === "object" && v.Alphabetic !== undefined) return v.Alphabetic;
    return v === undefined ? "" : v;
  };

  function drawTimeline(id, local, studies, reports, problems) {
    var items = [];
    studies.forEach(function (s) {
      items.push({kind: "imaging", date: H.fmtDate(H.tag(s, "00080020")),
        item: [H.tag(s, "00080061") || H.tag(s, "00080060"), H.tag(s, "00081030")]
          .filter(Boolean).join(" "),
        institution: H.tag(s, "00080080") || t("here"),
        href: "/ui/study?study=" + H.enc(H.tag(s, "0020000D")) + "&patient=" + H.enc(local),
        link: t("open.study")});
    });
    reports.forEach(function (r) {
      var code = r.code || {};
      items.push({kind: "lab", date: H.fmtDate(r.effective || r.issued),
        item: code.display || code.code || "",
        institution: (r.performer && r.performer.institution) || t("here"),
        href: "/ui/report?id=" + H.enc(r.id) + "&patient=" + H.enc(local),
        link: t("open.report")});
    });
    items.sort(function (a, b) { return a.date < b.date ? 1 : a.date > b.date ? -1 : 0; });
    var list = h("ol", {class: "timeline", id: "timeline"}, items.map(function (it) {
      return h("li", {class: "entry " + it.kind, "data-kind": it.kind},
        h("span", {class: "date"}, it.date),
        h("span", {class: "badge " + it.kind}, t("kind." + it.kind)),
        h("span", {class: "item"}, it.item),
        h("span", {class: "inst"}, it.institution),
        h("a", {href: it.href}, it.link));
    }));
    /* results held by other hospitals are listed per ordered item: the recognition prompt */
    var item = h("input", {name: "item", id: "rec-item", required: true,
                           placeholder: t("rec.ask.hint"), "aria-label": t("rec.ask")});
    var ask = h("form", {class: "idform", id: "rec-form", action: "/ui/recognition",
                         method: "get"}, h("label", {for: "rec-item"}, t("rec.ask")),
      h("input", {type: "hidden", name: "patient", value: id}), item,
      h("button", {type: "submit"}, t("open")));
    H.show(h("h1", null, t("patient.title", id)), ask,
      problems.map(function (p) { return H.message(t("error", p)); }),
      h("h2", null, t("timeline")),
      items.length ? list : H.message(t("patient.unknown"), "info"));
    /* and what the patient has at every hospital of the region (recognition.js) */
    if (H.regionTimeline) {
      var region = h("section", {id: "region", class: "region-box"});
      H.main().appendChild(region);
      H.regionTimeline(id, region);
    }
  }

  /* Abnormal flags of HL7 OBX-8 (H, L, HH, LL, A, AA, >, <), or a number outside "lo-hi". */
  H.abnormal = function (obs) {
    var f = String(obs.interpretation || "").toUpperCase();
    if (/^(H|HH|L|LL|A|AA|>|<|HU|LU)$/.test(f)) return f[0] === "L" || f === "<" ? "low" : "high";
    var m = /^\s*(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*$/.exec(obs.reference_range || "");
    var v = parseFloat(obs.value);
    if (m && !isNaN(v) && f !== "N") {
      if (v < parseFloat(m[1])) return "low";
      if (v > parseFloat(m[2])) return "high";
    }
    return "";
  };

  /* /ui/report?id=: one lab report, with the earlier reports of the same item side by side. */
  H.pages.report = function () {
    var id = H.params.get("id") || "";
    H.show(h("h1", null, t("report.title")), h("p", {class: "muted"}, t("loading")));
    H.api("/api/v1/reports/" + H.enc(id)).then(function (r) {
      if (r.status !== 200 || !r.body) {
        H.show(h("h1", null, t("report.title")),
          H.message(r.status === 404 ? t("report.missing") : t("error", H.errText(r))));
        return;
      }
      var rep = r.body.report || r.body;
      var pid = rep.patient_id || H.params.get("patient");
      H.api("/api/v1/patients/" + H.enc(pid) + "/reports").then(function (all) {
        var code = rep.code && rep.code.code;
        var earlier = ((all.body && all.body.entry) || []).filter(function (o) {
          return o.id !== rep.id && o.code && o.code.code === code &&
            String(o.effective || "") < String(rep.effective || "");
        }).sort(function (a, b) { return a.effective < b.effective ? 1 : -1; }).slice(0, 3);
        drawReport(rep, earlier);
      });
    });
  };

  function drawReport(rep, earlier) {
    var code = rep.code || {};
    H.show(h("h1", null, t("report.title") + "：" + (code.display || code.code || "")),
      h("dl", {class: "details"},
        h("dt", null, t("date")), h("dd", null, H.fmtDate(rep.effective)),
        h("dt", null, t("institution")),
        h("dd", null, (rep.performer && rep.performer.institution) || t("here")),
        h("dt", null, t("orderer")), h("dd", null, (rep.orderer && rep.orderer.department) || ""),
        h("dt", null, t("status")), h("dd", null, rep.status || "")),
      earlier.length ? h("p", {class: "muted"}, t("earlier")) : null,
      H.reportTable(rep, earlier),
      rep.patient_id ? h("p", null, h("a", {href: "/ui/patient?id=" + H.enc(rep.patient_id)},
        t("back"))) : null);
  }

  /* The observations of a report (value, unit, range, flag; abnormal marked), with the values
   * of the earlier reports as extra columns; institution, if given, is shown above it. */
  H.reportTable = function (rep, earlier, institution) {
    var head = h("tr", null, h("th", null, t("item")), h("th", null, t("result")),
      h("th", null, t("unit")), h("th", null, t("range")), h("th", null, t("flag")),
      earlier.map(function (e) {
        return h("th", {class: "earlier"}, H.fmtDate(e.effective));
      }));
    var rows = (rep.result || []).map(function (o) {
      var oc = o.code || {};
      var ab = H.abnormal(o);
      return h("tr", {class: ab ? "abnormal " + ab : "", "data-code": oc.code || ""},
        h("td", null, oc.display || oc.code || ""),
        h("td", {class: "value"}, o.value === undefined ? "" : o.value,
          ab ? h("span", {class: "arrow", title: t("flag")}, ab === "high" ? " ↑" : " ↓") : null),
        h("td", null, o.unit || ""), h("td", null, o.reference_range || ""),
        h("td", {class: "flag"}, o.interpretation || ""),
        earlier.map(function (e) {
          var prev = (e.result || []).filter(function (p) {
            return p.code && p.code.code === oc.code;
          })[0];
          var pab = prev ? H.abnormal(prev) : "";
          return h("td", {class: "earlier" + (pab ? " abnormal " + pab : "")},
            prev ? prev.value : "");
        }));
    });
    var table = h("table", {class: "obs", id: institution ? null : "observations"},
      h("thead", null, head), h("tbody", null, rows));
    if (!institution) return table;
    var code = rep.code || {};
    return h("div", {class: "report-inline"}, h("p", null, [code.display || code.code,
      H.fmtDate(rep.effective), institution].filter(Boolean).join(" · ")), table);
  };

  /* Start: the header in the current language, then the view the path names. */
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.lang = H.lang === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (el) {
      el.textContent = t(el.getAttribute("data-t"));
    });
    document.title = t("brand");
    var btn = document.getElementById("lang");
    btn.textContent = t("lang");
    btn.addEventListener("click", function () {
      localStorage.setItem("huren.lang", H.lang === "zh" ? "en" : "zh");
      var p = new URLSearchParams(location.search);
      if (!p.has("lang")) return location.reload();
      p.delete("lang"); /* an explicit ?lang= would win over the choice just made */
      location.search = p.toString();
    });
    var name = location.pathname.replace(/^\/ui\/?/, "") || "index";
    (H.pages[name] || H.pages.index)();
  });
})();
