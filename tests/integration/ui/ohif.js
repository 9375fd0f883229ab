// ohif.js: the OHIF viewer (the built @ohif/app from npm) on its own origin, against a huren
// node on another: serves the viewer's files from a static server on 127.0.0.1:cfg.port with an
// app-config.js whose DICOMweb data source is the node, then drives Debian's chromium through
// playwright-core: the study list, every series of every study in the viewport, every
// thumbnail. Called by test_ohif.py with a JSON description as argv[2]; throws (exit 1) on the
// first failed check and prints a JSON summary as its last line. Requests to any other host
// cannot resolve and fail the run.
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const T = 120000; // generous: OHIF is 20 MB of scripts on a slow, shared 2-core machine
const VIEWER = "http://127.0.0.1:" + cfg.port;
const summary = { steps: [], external: [], node_answers: [], thumbnails: {} };

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  summary.steps.push(what);
}

// The configuration a hospital gives OHIF for a huren node (docs/api/dicomweb.md, "DICOMweb viewers").
function appConfig() {
  const dw = cfg.node + "/dicom-web";
  const config = {
    routerBasename: null,
    extensions: [],
    modes: [],
    showStudyList: true,
    defaultDataSourceName: "huren",
    investigationalUseDialog: { option: "never" },
    dataSources: [{
      namespace: "@ohif/extension-default.dataSourcesModule.dicomweb",
      sourceName: "huren",
      configuration: {
        friendlyName: "huren", name: "huren",
        qidoRoot: dw, wadoRoot: dw, wadoUriRoot: dw + "/wado",
        qidoSupportsIncludeField: true, supportsFuzzyMatching: false, supportsWildcard: true,
        imageRendering: "wadors", thumbnailRendering: "thumbnail",
        thumbnailRequestStrategy: "fetch", enableStudyLazyLoad: true, staticWado: false,
        singlepart: "bulkdata,video", bulkDataURI: { enabled: true },
        // PS3.18 quotes the type parameter of Accept; a quote is not a CORS-safelisted byte,
        // so the browser preflights these requests
        omitQuotationForMultipartRequest: false,
      },
    }],
  };
  return "window.config = " + JSON.stringify(config, null, 2) + ";\n";
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
  ".wasm": "application/wasm", ".json": "application/json", ".svg": "image/svg+xml",
  ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2", ".woff": "font/woff",
  ".ttf": "font/ttf", ".map": "application/json" };

// The viewer's origin: its files, the generated app-config.js, index.html for its own routes.
function serveViewer() {
  const root = path.resolve(cfg.dist);
  const configText = appConfig();
  fs.writeFileSync(path.join(cfg.shots, "app-config.js"), configText);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, VIEWER);
    if (url.pathname === "/app-config.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      return res.end(configText);
    }
    let file = path.resolve(root, "." + decodeURIComponent(url.pathname));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory())
      file = path.join(root, "index.html");
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(cfg.port, "127.0.0.1", () => resolve(server)));
}

// Polls probe() (an async function) until it returns a truthy value.
async function waitFor(what, probe) {
  const deadline = Date.now() + T;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 250)); // poll interval, not a synchronisation
  }
}

function until(page, fn, arg, what) {
  return waitFor(what, () => page.evaluate(fn, arg));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(cfg.shots, name + ".png") });
}

// Should another tour show, skip it.
async function skipTour(page) {
  const skip = page.getByText("Skip all", { exact: true });
  if (await skip.count()) await skip.first().click().catch(() => {});
}

// In the page: does the viewport's canvas hold an image (not one flat colour)? Returns the
// number of distinct grey levels sampled, or 0.
function canvasLevels() {
  const c = document.querySelector("[data-cy=viewport-pane] canvas.cornerstone-canvas");
  if (!c || !c.width || !c.height) return 0;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  let lit = 0;
  for (let i = 0; i < d.length; i += 4 * 7) {
    const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
    if (v > 8) lit++;
    seen.add(Math.round(v / 8));
  }
  return lit > d.length / (4 * 7) / 50 && seen.size > 4 ? seen.size : 0;
}

// In the page: the thumbnails of the study browser, with whether each image decoded into
// something that is not blank.
function thumbnails() {
  return Array.from(document.querySelectorAll("[data-cy=study-browser-thumbnail]")).map((t) => {
    const img = t.querySelector("img");
    const label = t.querySelector("[data-cy=series-description-label]");
    let levels = 0;
    if (img && img.complete && img.naturalWidth > 0) {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(Math.round((d[i] + d[i + 1] + d[i + 2]) / 24));
      levels = seen.size;
    }
    return { series: t.getAttribute("data-series"), label: label ? label.textContent : "",
      levels };
  });
}

// In the page: what OHIF shows when something failed (error toasts, viewport error text).
function errorShown() {
  const pane = document.querySelector("[data-cy=viewport-pane]");
  const toasts = Array.from(document.querySelectorAll("[data-sonner-toast][data-type=error]"));
  const texts = toasts.map((t) => t.textContent);
  if (pane && /error|failed|could not|unsupported/i.test(pane.innerText)) texts.push(pane.innerText);
  return texts.join(" | ");
}

async function studyList(page) {
  await page.goto(VIEWER + "/");
  for (const s of cfg.studies)
    await until(page, (d) => document.body.innerText.includes(d), s.description,
      "study list row " + s.description);
  const rows = await page.$$eval("tbody tr", (trs) => trs.map((tr) => tr.innerText));
  summary.study_list = rows;
  check(cfg.studies.every((s) => rows.some((r) => r.includes(s.description))),
    "the study list shows all " + cfg.studies.length + " studies");
  await shot(page, "study-list");
}

async function viewStudy(page, s, n) {
  await page.goto(VIEWER + "/viewer?StudyInstanceUIDs=" + s.uid);
  await page.waitForSelector("[data-cy=study-browser-thumbnail]", { timeout: T });
  await skipTour(page);
  const want = s.series.length;
  await waitFor(want + " thumbnails decoded", async () =>
    (await page.evaluate(thumbnails)).filter((t) => t.levels > 1).length >= want)
    .catch(async (e) => {
      await shot(page, "study-" + n + "-thumbnails");
      throw e;
    });
  const thumbs = await page.evaluate(thumbnails);
  summary.thumbnails[s.description] = thumbs;
  check(thumbs.length === want && thumbs.every((t) => t.levels > 1),
    s.description + ": " + want + " thumbnails, each an image");
  for (let i = 0; i < want; i++) {
    const desc = s.series[i].description;
    await skipTour(page);
    await page.locator("[data-cy=study-browser-thumbnail]", { hasText: desc }).first().dblclick();
    await until(page, (d) => {
      const o = document.querySelector("[data-cy=viewport-overlay-top-left]");
      return o && o.innerText.includes(d);
    }, desc, "series " + desc + " in the viewport");
    const levels = await until(page, canvasLevels, null, "series " + desc + " rendered")
      .catch(async (e) => {
        await shot(page, "study-" + n + "-series-" + i + "-blank");
        throw e;
      });
    const err = await page.evaluate(errorShown);
    await shot(page, "study-" + n + "-series-" + i);
    check(!err, desc + ": no error shown (" + err + ")");
    check(levels > 4, desc + ": rendered in the viewport (" + levels + " grey levels)");
  }
}

// A node that does not list the viewer's origin: the browser withholds its answers, so the
// study list stays empty.
async function refused(page, errors) {
  await page.goto(VIEWER + "/");
  await waitFor("the browser to refuse the node's answer", async () =>
    errors.some((e) => e.startsWith("request failed: " + cfg.node + "/dicom-web/studies")));
  await shot(page, "refused");
  const text = await page.evaluate(() => document.body.innerText);
  check(cfg.studies.every((s) => !text.includes(s.description)),
    "no study listed from a node that does not share its answers");
  summary.refused = errors;
}

async function main() {
  const server = await serveViewer();
  const ctx = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    // Requests are not routed through playwright (with routing on, playwright answers CORS
    // preflights itself, and the node's would go untested); other hosts do not resolve instead.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
    viewport: { width: 1400, height: 900 },
    timeout: T,
  });
  try {
    ctx.on("request", (r) => {
      const url = r.url();
      if (/^https?:/.test(url) && !url.startsWith(VIEWER + "/") && !url.startsWith(cfg.node + "/"))
        summary.external.push(url);
    });
    // OHIF's first-visit tour (an overlay that takes the clicks) counts as seen
    await ctx.addInitScript(() =>
      localStorage.setItem("shownTours", JSON.stringify(["basicViewerTour"])));
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(T);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("response", (r) => {
      if (r.url().startsWith(cfg.node + "/"))
        summary.node_answers.push({ status: r.status(), url: r.url().slice(cfg.node.length) });
    });
    page.on("requestfailed", (r) => {
      // a CORS refusal shows here, not as a response
      const f = r.failure();
      if (r.url().startsWith(cfg.node + "/") && f && !/ERR_ABORTED/.test(f.errorText))
        errors.push("request failed: " + r.url() + ": " + f.errorText);
    });
    if (cfg.scenario === "refused") {
      await refused(page, errors);
    } else {
      await studyList(page);
      for (let i = 0; i < cfg.studies.length; i++) await viewStudy(page, cfg.studies[i], i);
      check(errors.length === 0, "no script or request errors: " + errors.join("; "));
    }
  } finally {
    await ctx.close();
    server.close();
  }
  check(summary.external.length === 0, "no request left the two origins: " +
    summary.external.join(" "));
}

main().then(() => {
  console.log(JSON.stringify(summary));
}, (e) => {
  console.error(e.stack || String(e));
  console.log(JSON.stringify(Object.assign(summary, { error: String(e) })));
  process.exit(1);
});
