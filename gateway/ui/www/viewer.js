/* viewer.js: the study view (/ui/study?study=UID): study details, series with thumbnails, and
 * an image viewer on the node's WADO-RS /rendered endpoint with window presets, free
 * window/level by mouse drag, and scrolling through a series by wheel and keys. */
"use strict";
(function () {
  var H = window.HUREN, t = H.t, h = H.h;
  var DW = "/dicom-web";
  /* [center, width] in Hounsfield units */
  var PRESETS = {lung: [-600, 1500], mediastinum: [50, 350], bone: [400, 1800],
                 brain: [40, 80], abdomen: [50, 400]};

  /* An <img> that turns into a placeholder when the server cannot render it. */
  function image(src, attrs) {
    var img = h("img", attrs);
    img.addEventListener("error", function () {
      var ph = h("div", {class: "placeholder " + (img.className || ""), role: "img"},
        t("img.failed"));
      if (img.parentNode) img.parentNode.replaceChild(ph, img);
    });
    img.src = src;
    return img;
  }

  /* opened for a patient (a HIS session reaches that patient only): searches name them */
  function forPatient() {
    var p = H.params.get("patient");
    return p ? "&PatientID=" + H.enc(p) : "";
  }

  H.pages.study = function () {
    var study = H.params.get("study") || "";
    H.show(h("h1", null, t("study.title")), h("p", {class: "muted"}, t("loading")));
    Promise.all([
      H.api(DW + "/studies?StudyInstanceUID=" + H.enc(study) +
            "&includefield=00080080&includefield=00081030" + forPatient()),
      H.api(DW + "/studies/" + H.enc(study) + "/series?includefield=00180015" + forPatient())
    ]).then(function (res) {
      var st = Array.isArray(res[0].body) && res[0].body[0];
      if (!st) {
        H.show(h("h1", null, t("study.title")), H.message(res[0].status === 200 ||
          res[0].status === 204 ? t("study.missing") : t("error", H.errText(res[0]))));
        return;
      }
      var series = Array.isArray(res[1].body) ? res[1].body : [];
      series.sort(function (a, b) { return (+H.tag(a, "00200011")) - (+H.tag(b, "00200011")); });
      drawStudy(study, st, series);
    });
  };

  function drawStudy(study, st, series) {
    var viewer = h("section", {class: "viewer", id: "viewer"});
    var list = h("ul", {class: "series", id: "series"}, series.map(function (s, i) {
      var uid = H.tag(s, "0020000E");
      var li = h("li", {class: "series-item", tabindex: "0", "data-series": uid,
        onclick: function () { select(i); }},
        image(DW + "/studies/" + H.enc(study) + "/series/" + H.enc(uid) + "/thumbnail",
              {class: "thumb", alt: ""}),
        h("span", null, "#" + H.tag(s, "00200011") + " " + H.tag(s, "00080060") + " " +
          (H.tag(s, "0008103E") || "")),
        h("span", {class: "muted"}, t("images", H.tag(s, "00201209"))));
      return li;
    }));
    function select(i) {
      Array.prototype.forEach.call(list.children, function (li, j) {
        li.classList.toggle("selected", i === j);
      });
      openSeries(viewer, study, series[i]);
    }
    var pid = H.tag(st, "00100020");
    H.show(h("h1", null, t("study.title") + "：" + [H.tag(st, "00080061"),
        H.tag(st, "00081030")].filter(Boolean).join(" ")),
      h("dl", {class: "details", id: "study-details"},
        h("dt", null, t("patient")), h("dd", null, H.tag(st, "00100010") + " (" + pid + ")"),
        h("dt", null, t("study.date")), h("dd", null, H.fmtDate(H.tag(st, "00080020"))),
        h("dt", null, t("modality")), h("dd", null, H.tag(st, "00080061")),
        h("dt", null, t("accession")), h("dd", null, H.tag(st, "00080050")),
        h("dt", null, t("institution")), h("dd", null, H.tag(st, "00080080") || t("here"))),
      h("div", {class: "study-layout"},
        h("aside", null, h("h2", null, t("series")), series.length ? list :
          H.message(t("noseries"), "info")), viewer),
      pid ? h("p", null, h("a", {href: "/ui/patient?id=" + H.enc(pid)}, t("back"))) : null);
    if (series.length) select(0);
  }

  /* The viewer for one series: the instances in InstanceNumber order, one <img> on /rendered. */
  function openSeries(viewer, study, s) {
    var series = H.tag(s, "0020000E");
    var base = DW + "/studies/" + H.enc(study) + "/series/" + H.enc(series);
    viewer.textContent = "";
    viewer.appendChild(h("p", {class: "muted"}, t("loading")));
    H.api(base + "/instances" + forPatient().replace("&", "?")).then(function (r) {
      var inst = Array.isArray(r.body) ? r.body : [];
      inst.sort(function (a, b) { return (+H.tag(a, "00200013")) - (+H.tag(b, "00200013")); });
      var state = {index: 0, center: null, width: null, loading: false, pending: false};
      var img = h("img", {id: "view", class: "view", alt: "", draggable: "false"});
      var failed = h("div", {class: "placeholder view", id: "view-failed", role: "img"},
        t("img.failed"));
      failed.hidden = true;
      var pos = h("span", {id: "pos"}), win = h("span", {id: "win"});
      var presets = h("div", {class: "presets", id: "presets"},
        h("button", {type: "button", "data-preset": "default", class: "active",
          onclick: function () { setWindow(null, null, this); }}, t("preset.default")),
        Object.keys(PRESETS).map(function (k) {
          return h("button", {type: "button", "data-preset": k, onclick: function () {
            setWindow(PRESETS[k][0], PRESETS[k][1], this);
          }}, t("preset." + k));
        }));
      var stage = h("div", {class: "stage", id: "stage", tabindex: "0"}, img, failed,
        h("div", {class: "overlay"}, pos, " ", win));
      viewer.textContent = "";
      viewer.appendChild(presets);
      viewer.appendChild(stage);
      viewer.appendChild(h("p", {class: "muted"}, t("viewer.help")));
      viewer.appendChild(h("dl", {class: "details"},
        h("dt", null, t("series.number")), h("dd", null, H.tag(s, "00200011")),
        h("dt", null, t("modality")), h("dd", null, H.tag(s, "00080060")),
        h("dt", null, t("description")), h("dd", null, H.tag(s, "0008103E")),
        h("dt", null, t("body.part")), h("dd", null, H.tag(s, "00180015"))));
      if (!inst.length) return;

      function url() {
        var u = base + "/instances/" + H.enc(H.tag(inst[state.index], "00080018")) + "/rendered";
        if (state.center !== null)
          u += "?window=" + Math.round(state.center) + "," + Math.max(1, Math.round(state.width));
        return u;
      }
      /* One request at a time: while dragging, only the latest window is fetched next. */
      function render() {
        if (state.loading) { state.pending = true; return; }
        state.loading = true;
        state.pending = false;
        img.setAttribute("data-index", String(state.index));
        img.src = url();
        pos.textContent = t("img.pos", state.index + 1, inst.length);
        win.textContent = state.center === null ? "" :
          t("window", Math.round(state.width), Math.round(state.center));
      }
      function done(ok) {
        state.loading = false;
        img.hidden = !ok;
        failed.hidden = ok;
        img.setAttribute("data-loaded", ok ? img.getAttribute("src") : "");
        if (state.pending) render();
      }
      img.addEventListener("load", function () { done(true); });
      img.addEventListener("error", function () { done(false); });
      function setWindow(c, w, btn) {
        state.center = c;
        state.width = w;
        Array.prototype.forEach.call(presets.children, function (b) {
          b.classList.toggle("active", b === btn);
        });
        render();
      }
      function go(delta) {
        var i = Math.min(inst.length - 1, Math.max(0, state.index + delta));
        if (i !== state.index) { state.index = i; render(); }
      }
      stage.addEventListener("wheel", function (ev) {
        ev.preventDefault();
        go(ev.deltaY > 0 ? 1 : -1);
      }, {passive: false});
      stage.addEventListener("keydown", function (ev) {
        var k = {ArrowDown: 1, ArrowRight: 1, PageDown: 1, ArrowUp: -1, ArrowLeft: -1,
                 PageUp: -1, Home: -1e9, End: 1e9}[ev.key];
        if (k) { ev.preventDefault(); go(k); }
      });
      /* drag: left/right changes the width, up/down the center, 4 units per pixel */
      var drag = null;
      stage.addEventListener("mousedown", function (ev) {
        stage.focus();
        drag = {x: ev.clientX, y: ev.clientY, c: state.center === null ? 40 : state.center,
                w: state.width === null ? 400 : state.width};
        ev.preventDefault();
      });
      window.addEventListener("mousemove", function (ev) {
        if (!drag || !stage.isConnected) return;
        state.width = Math.max(1, drag.w + (ev.clientX - drag.x) * 4);
        state.center = drag.c + (ev.clientY - drag.y) * 4;
        Array.prototype.forEach.call(presets.children, function (b) {
          b.classList.remove("active");
        });
        render();
      });
      window.addEventListener("mouseup", function () { drag = null; });
      render();
      stage.focus();
    });
  }
})();
