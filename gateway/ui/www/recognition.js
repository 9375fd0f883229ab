/* recognition.js: the recognition prompt (/ui/recognition?patient=&item=&order=&doctor=&dept=),
 * the statistics page (/ui/stats), both on the recognition API (GET /api/v1/recognition,
 * POST /api/v1/recognition/decisions, GET /api/v1/recognition/stats), and the patient page's
 * results at every hospital (GET /api/v1/patients/{id}/timeline?scope=region). */
"use strict";
(function () {
  var H = window.HUREN, t = H.t, h = H.h;
  var REASONS = ["condition_changed", "fast_changing", "pre_surgery_transfusion", "emergency",
                 "judicial_appraisal", "lab_failed_qc", "too_old", "patient_request", "other"];

  H.pages.recognition = function () {
    var p = H.params;
    if (p.get("launch")) { launched(); return; }
    var patient = p.get("patient") || "", item = p.get("item") || "";
    if (!patient || !item) {
      H.show(h("h1", null, t("rec.title")), H.message(t("rec.missing")));
      return;
    }
    var idErr = H.validateId(patient);
    if (idErr) {
      H.show(h("h1", null, t("rec.title")), H.message(idErr));
      return;
    }
    H.show(h("h1", null, t("rec.title")), h("p", {class: "muted"}, t("loading")));
    var q = {patient: patient, item: item};
    ["doctor", "dept", "at", "order", "visit"].forEach(function (k) {
      if (p.get(k)) q[k] = p.get(k);
    });
    askPrompt(q).then(function (r) {
      if (r.status !== 200 || !r.body) {
        H.show(h("h1", null, t("rec.title")), H.message(t("error", H.errText(r))));
        return;
      }
      H.show(h("h1", null, t("rec.title")), promptNodes(r.body));
    });
  };

  /* the prompt is one per patient, item, order (or visit) and day: asked again, the same */
  function askPrompt(q) {
    var qs = Object.keys(q).map(function (k) { return k + "=" + H.enc(q[k]); }).join("&");
    return H.api("/api/v1/recognition?" + qs);
  }

  /* Opened by a HIS launch (/ui/launch): the session names the doctor, the patient and the
   * draft orders; one prompt per order, one after the other. */
  function launched() {
    H.show(h("h1", null, t("rec.title")), h("p", {class: "muted"}, t("loading")));
    H.api("/api/v1/his/session").then(function (r) {
      if (r.status !== 200 || !r.body) {
        H.show(h("h1", null, t("rec.title")), H.message(t("his.expired"), "error session"));
        return;
      }
      var s = H.session = r.body;
      var orders = s.orders || [];
      var boxes = orders.map(function (o) {
        return h("section", {class: "order", "data-order": o.id, "data-code": o.code},
          h("h2", null, t("his.order", o.code, o.id || "")),
          h("p", {class: "muted"}, t("loading")));
      });
      H.show(h("h1", null, t("rec.title")),
        h("p", {class: "lead his-doctor"}, t("his.doctor", s.doctor.name || s.doctor.id,
          s.department || "")),
        orders.length ? boxes : H.message(t("his.noorders"), "info"));
      orders.forEach(function (o, i) {
        var q = {patient: s.patient, item: o.code};
        if (o.id) q.order = o.id;
        if (s.visit) q.visit = s.visit;
        if (s.department) q.dept = s.department;
        askPrompt(q).then(function (pr) {
          var box = boxes[i];
          box.removeChild(box.lastChild);
          if (pr.status !== 200 || !pr.body) {
            box.appendChild(H.message(t("error", H.errText(pr))));
            return;
          }
          promptNodes(pr.body).forEach(function (n) { if (n) box.appendChild(n); });
        });
      });
    });
  }

  /* A decision recorded, told to the HIS window that opened the page (or framed it), at the
   * HIS's configured origin only; nothing without a session or an origin. */
  function tellHis(rec, res, decision, reason, id) {
    var s = H.session;
    var target = window.opener || (window.parent !== window ? window.parent : null);
    if (!s || !s.origin || !target) return;
    target.postMessage({type: "huren.decision", order: rec.order || "",
      item: (rec.item || {}).code || "", result: res.result_key,
      recognised: decision === "accepted", reason: reason || null, decision_id: id,
      prompt_id: rec.prompt_id}, s.origin);
  }

  function promptNodes(rec) {
    var it = rec.item || {};
    var results = (rec.results || []).slice().sort(function (a, b) {
      return a.date < b.date ? 1 : a.date > b.date ? -1 : 0;
    });
    /* validity is counted on the prompt's day (at, YYYYMMDD), today unless the HIS set it */
    var today = rec.at ? H.fmtDate(rec.at) : H.today();
    var cards = results.map(function (res) {
      var valid = res.valid_until && H.fmtDate(res.valid_until) >= today;
      return h("li", {class: "result " + (valid ? "valid" : "expired"),
                      "data-key": res.result_key},
        h("div", {class: "row"},
          h("span", {class: "date"}, H.fmtDate(res.date)),
          h("span", {class: "badge " + res.kind}, t("kind." + res.kind)),
          h("span", {class: "item"}, [res.item_name || res.item_code, res.modality,
            res.body_part].filter(Boolean).join(" · ")),
          h("span", {class: "inst"}, res.institution),
          partsOf(res),
          res.hr_scope ? h("span", {class: "hr"}, "HR " + res.hr_scope) : null,
          h("span", {class: "validity"}, valid ? t("rec.valid", H.fmtDate(res.valid_until))
            : t("rec.expired")),
          openButton(rec, res)),
        decisionForm(rec, res));
    });
    return [
      h("p", {class: "lead"}, t("rec.item", (it.name || it.code || "") +
        (it.validity_days ? "（" + t("rec.validity", it.validity_days) + "）" : "")),
        it.hr_scope ? " · " + t("rec.hr", it.hr_scope) : ""),
      h("div", null, (rec.unavailable || []).map(function (u) {
        return H.message(t("rec.unavailable", u.institution || u.source, u.reason || ""),
                         "warn unavailable");
      })),
      results.length ? h("ol", {class: "results", id: H.session ? null : "results"}, cards) :
        H.message(t("rec.none"), "info")];
  }

  /* One exam, one result: what it has (images, a report, both). */
  function partsOf(res) {
    var parts = [res.images ? t("part.images") : null, res.report ? t("part.report") : null];
    parts = parts.filter(Boolean);
    return parts.length ? h("span", {class: "parts"}, parts.join(" + ")) : null;
  }

  /* A result is held by another hospital: "调取" asks this node to fetch it (POST
   * /api/v1/retrievals): a study is fetched in the background with its progress shown, then
   * opens in the viewer; a report comes back as JSON and is shown under the result, with its
   * institution. */
  function openButton(rec, res) {
    var o = res.open || {};
    var isStudy = o.type === "study";
    var out = h("div", {class: "retrieved"});
    var btn = h("button", {type: "button", class: "open"},
      t(isStudy ? "rec.fetch.study" : "rec.fetch.report"));
    function finished(r) {
      out.textContent = "";
      var b = r.body || {};
      if ((r.status !== 200 && r.status !== 201) || b.status === "incomplete") {
        out.appendChild(H.message(t("rec.fetch.failed", H.errText(r)) +
          (b.stored ? " " + t("rec.fetch.partial", b.stored) : "")));
        btn.disabled = false;
        return;
      }
      if (isStudy) {
        var uid = b.study_uid || o.study_uid;
        out.appendChild(h("span", {class: "msg ok"},
          t("rec.fetch.done", (b.stored || 0) + (b.already_held || 0)), " ",
          h("a", {href: "/ui/study?study=" + H.enc(uid) +
            (rec.patient ? "&patient=" + H.enc(rec.patient) : "")}, t("open.study"))));
      } else if (b.report) {
        out.appendChild(H.reportTable(b.report, [], b.institution || res.institution));
      }
    }
    /* a background retrieval (202): poll its progress until it is complete or cut short */
    function poll(url, started) {
      H.api(url).then(function (r) {
        var b = r.body || {};
        if (r.status === 200 && b.status === "running") {
          progress.textContent = t("rec.fetching") + " " + t("rec.fetch.count", b.stored || 0);
          setTimeout(function () { poll(url, started); }, 500);
        } else {
          if (r.status === 200 && !b.study_uid) b.study_uid = started.study_uid;
          finished(r);
        }
      });
    }
    var progress = h("span", {class: "muted progress"});
    btn.addEventListener("click", function () {
      btn.disabled = true;
      out.textContent = "";
      progress.textContent = t("rec.fetching");
      out.appendChild(progress);
      var body = {prompt_id: rec.prompt_id, result_key: res.result_key};
      if (isStudy) body.background = true; /* a study can take minutes: show its progress */
      H.api("/api/v1/retrievals", {method: "POST", body: body}).then(function (r) {
        var b = r.body || {};
        if (r.status === 202 && b.progress && /^\/api\/v1\/retrievals\//.test(b.progress))
          poll(b.progress, b);
        else
          finished(r);
      });
    });
    return h("span", {class: "opener"}, btn, out);
  }

  /* 互认 / 不互认 with a reason: posted once (buttons disabled while posting and after). */
  function decisionForm(rec, res) {
    var p = H.params;
    var status = h("p", {class: "msg decision-status", role: "status"});
    status.hidden = true;
    var select = h("select", {class: "reason", "aria-label": t("rec.reason")},
      REASONS.map(function (r) { return h("option", {value: r}, t("reason." + r)); }));
    var other = h("input", {class: "reason-text", placeholder: t("rec.other")});
    var accept = h("button", {type: "button", class: "accept"}, t("rec.accept"));
    var reject = h("button", {type: "button", class: "reject"}, t("rec.reject"));
    var confirm = h("button", {type: "button", class: "confirm"}, t("rec.confirm"));
    var rejectBox = h("div", {class: "reject-box"}, select, other, confirm);
    rejectBox.hidden = true;
    other.hidden = true;
    select.addEventListener("change", function () { other.hidden = select.value !== "other"; });
    var buttons = [accept, reject, confirm];
    /* a critical value (危急值): warned, and 互认 only once the doctor ticks the confirmation */
    var crit = null;
    if (res.critical) {
      var tick = h("input", {type: "checkbox", class: "confirm-critical"});
      crit = h("div", {class: "critical-box"},
        h("p", {class: "msg error critical-warning"}, res.warning || t("rec.critical")),
        h("label", null, tick, " ", t("rec.critical.confirm")));
      crit.tick = tick;
      accept.disabled = true;
      tick.addEventListener("change", function () { accept.disabled = !tick.checked; });
    }
    function post(decision, reason, text) {
      buttons.forEach(function (b) { b.disabled = true; });
      var body = {prompt_id: rec.prompt_id, result_key: res.result_key, decision: decision,
                  doctor: p.get("doctor") || "", department: p.get("dept") || "",
                  order_id: rec.order || p.get("order") || "",
                  visit_id: rec.visit || p.get("visit") || ""};
      if (reason) body.reason = reason;
      if (text) body.reason_text = text;
      if (crit && decision === "accepted") body.confirm_critical = crit.tick.checked;
      H.api("/api/v1/recognition/decisions", {method: "POST", body: body}).then(function (r) {
        status.hidden = false;
        if ((r.status === 201 || r.status === 200) && r.body) {
          status.className = "msg ok decision-status";
          status.textContent = t("rec.saved", t("rec." + decision), r.body.decision_id);
          rejectBox.hidden = true;
          tellHis(rec, res, decision, reason, r.body.decision_id);
        } else {
          status.className = "msg error decision-status";
          status.textContent = t("error", H.errText(r));
          buttons.forEach(function (b) { b.disabled = false; });
        }
      });
    }
    accept.addEventListener("click", function () { post("accepted"); });
    reject.addEventListener("click", function () { rejectBox.hidden = false; });
    confirm.addEventListener("click", function () {
      var text = other.value.trim();
      if (select.value === "other" && !text) {
        status.hidden = false;
        status.className = "msg error decision-status";
        status.textContent = t("rec.need.other");
        return;
      }
      post("rejected", select.value, text);
    });
    /* asked again (a reload, the same order): the decision already recorded, not a new one */
    var done = res.decision;
    if (done && done.decision_id) {
      buttons.forEach(function (b) { b.disabled = true; });
      status.hidden = false;
      status.className = "msg ok decision-status recorded";
      status.textContent = t("rec.saved", t("rec." + done.decision), done.decision_id) +
        (done.reason ? " · " + t("reason." + done.reason) : "") +
        (done.revoked ? " · " + t("rec.revoked", done.revoked_reason || "") : "");
      if (crit) crit.tick.disabled = true;
    }
    return h("div", {class: "decision"}, crit, h("div", {class: "row"}, accept, reject),
      rejectBox, status);
  }

  /* The patient page's results at every hospital, grouped by item (the group of the newest
   * result first, newest first inside), each marked this hospital / another hospital /
   * retrieved copy; another hospital's result is fetched as the prompt does, naming the
   * listing the API answered with. 403 (no recognition consent) and 503 (no directory) are
   * said, the local timeline stays. */
  H.regionTimeline = function (id, box) {
    var wait = h("p", {class: "muted"}, t("loading"));
    box.appendChild(h("h2", null, t("region.title")));
    box.appendChild(wait);
    H.api("/api/v1/patients/" + H.enc(id) + "/timeline?scope=region").then(function (r) {
      box.removeChild(wait);
      if (r.status !== 200 || !r.body) {
        box.appendChild(H.message(t("region.unavailable", H.errText(r)),
          r.status === 403 || r.status === 503 ? "info unavailable" : "error"));
        return;
      }
      var tl = r.body, groups = tl.groups || [];
      if (!groups.length) {
        box.appendChild(H.message(t("region.none"), "info"));
        return;
      }
      box.appendChild(h("div", {class: "region", id: "region-groups"}, groups.map(function (g) {
        return h("section", {class: "group", "data-item": g.key},
          h("h3", null, g.item_name || t("region.uncatalogued", t("kind." + g.kind)),
            g.item_code && g.item_code !== g.item_name ?
              h("span", {class: "muted code"}, " " + g.item_code) : null),
          h("ol", {class: "timeline region-results"}, (g.results || []).map(function (res) {
            return regionEntry(tl, res, id);
          })));
      })));
    });
  };

  function regionEntry(tl, res, id) {
    var o = res.open || {};
    var action;
    if (o.page) {
      action = h("span", {class: "opener"},
        h("a", {href: o.page + (o.type === "study" ? "&patient=" + H.enc(id) : "")},
          t(o.type === "study" ? "open.study" : "open.report")),
        o.report_page ? [" ", h("a", {href: o.report_page}, t("open.report"))] : null);
    } else {
      action = openButton({prompt_id: tl.listing_id}, res);
    }
    return h("li", {class: "entry " + res.kind + " " + res.origin, "data-key": res.result_key,
                    "data-origin": res.origin, "data-kind": res.kind},
      h("span", {class: "date"}, H.fmtDate(res.date)),
      h("span", {class: "badge " + res.kind}, t("kind." + res.kind)),
      h("span", {class: "origin " + res.origin}, t("origin." + res.origin)),
      h("span", {class: "item"}, [res.modality, res.body_part].filter(Boolean).join(" · ")),
      partsOf(res),
      h("span", {class: "inst"}, res.institution),
      action);
  }

  /* /ui/stats?from=&to=: recognition rate by item, department and month (SVG bars), counts
   * by rejection reason, and the CSV of each grouping. */
  H.pages.stats = function () {
    var p = H.params;
    var from = p.get("from") || "", to = p.get("to") || "";
    var form = h("form", {class: "statsform", method: "get", action: "/ui/stats"},
      h("label", null, t("stats.from"), " ", h("input", {type: "date", name: "from", value: from})),
      h("label", null, t("stats.to"), " ", h("input", {type: "date", name: "to", value: to})),
      h("button", {type: "submit"}, t("stats.show")));
    var sections = ["item", "department", "month"].map(function (by) {
      return h("section", {class: "stats", id: "stats-" + by}, h("h2", null, t("stats.by." + by)),
        h("p", {class: "muted"}, t("loading")));
    });
    H.show(h("h1", null, t("stats.title")), form, sections);
    sections.forEach(function (sec, i) {
      var by = ["item", "department", "month"][i];
      var f = from.replace(/-/g, ""), u = to.replace(/-/g, ""); /* the API takes YYYYMMDD */
      var q = "by=" + by + (f ? "&from=" + H.enc(f) : "") + (u ? "&to=" + H.enc(u) : "");
      H.api("/api/v1/recognition/stats?" + q).then(function (r) {
        sec.removeChild(sec.lastChild);
        if (r.status !== 200 || !r.body) {
          sec.appendChild(H.message(t("stats.unavailable", H.errText(r))));
          return;
        }
        var rows = r.body.rows || [];
        sec.appendChild(h("a", {class: "csv", download: "recognition-" + by + ".csv",
          href: "/api/v1/recognition/stats?" + q + "&format=csv"}, t("stats.csv")));
        if (!rows.length) { sec.appendChild(H.message(t("stats.empty"), "info")); return; }
        sec.appendChild(chart(rows));
        sec.appendChild(table(rows));
      });
    });
  };

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }
  /* the API's rate: accepted ÷ results shown */
  function rate(r) {
    if (typeof r.rate === "number") return r.rate;
    return r.shown ? (r.accepted || 0) / r.shown : 0;
  }
  /* Horizontal bars: the recognition rate (0–100 %) of each group, "accepted/shown". */
  function chart(rows) {
    var bar = 22, left = 160, width = 560, w = width - left - 120;
    var el = svg("svg", {class: "chart", width: width, height: rows.length * bar + 24,
      viewBox: "0 0 " + width + " " + (rows.length * bar + 24), role: "img"});
    rows.forEach(function (r, i) {
      var y = i * bar + 4, v = rate(r);
      el.appendChild(svg("text", {x: left - 6, y: y + 14, "text-anchor": "end"},
        String(r.key).slice(0, 24)));
      el.appendChild(svg("rect", {x: left, y: y, width: w, height: bar - 6, class: "track"}));
      el.appendChild(svg("rect", {x: left, y: y, width: Math.round(w * v), height: bar - 6,
                                  class: "bar"}));
      el.appendChild(svg("text", {x: left + w + 6, y: y + 14},
        Math.round(v * 100) + "% (" + (r.accepted || 0) + "/" + (r.shown || 0) + ")"));
    });
    el.appendChild(svg("line", {x1: left, x2: left, y1: 0, y2: rows.length * bar + 4,
                                class: "axis"}));
    return el;
  }
  function table(rows) {
    var reasons = {};
    rows.forEach(function (r) { Object.keys(r.by_reason || {}).forEach(function (k) {
      reasons[k] = 1; }); });
    var rk = REASONS.filter(function (k) { return reasons[k]; }).concat(
      Object.keys(reasons).filter(function (k) { return REASONS.indexOf(k) < 0; }));
    return h("table", {class: "statstable"},
      h("thead", null, h("tr", null, ["stats.key", "stats.prompts", "stats.shown",
        "stats.accepted", "stats.rejected", "stats.rate"].map(function (k) {
          return h("th", null, t(k)); }),
        rk.map(function (k) { return h("th", {class: "reason"}, t("reason." + k)); }))),
      h("tbody", null, rows.map(function (r) {
        return h("tr", {"data-key": r.key}, h("td", null, r.key), h("td", null, r.prompts),
          h("td", null, r.shown), h("td", null, r.accepted), h("td", null, r.rejected),
          h("td", null, Math.round(rate(r) * 100) + "%"),
          rk.map(function (k) { return h("td", {class: "reason"},
            (r.by_reason || {})[k] || 0); }));
      })));
  }
})();
