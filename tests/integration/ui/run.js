// run.js: drives the doctors' web page of a running huren node in Debian's chromium through
// playwright-core (no bundled browser). Called by test_ui.py with a JSON description of the
// seeded data as argv[2]; throws (exit 1) on the first failed check, prints a JSON summary.
// Every request that does not go to the node is refused and fails the run.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const T = 60000; // generous: a slow 2-core machine, a cold chromium
const summary = { steps: [], external: [] };

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  summary.steps.push(what);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(cfg.shots, name + ".png"), fullPage: true });
}

// Polls fn(arg) in the page until it returns a truthy value. page.waitForFunction would eval
// its predicate, which the page's Content-Security-Policy (rightly) forbids.
async function until(page, fn, arg, what) {
  const deadline = Date.now() + T;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100)); // poll interval, not a synchronisation
  }
}

// The <img id=view> has finished loading url-matching src and decoded to a real image.
async function viewLoaded(page, pred) {
  await until(page, ([src]) => {
    const img = document.getElementById("view");
    return img && img.getAttribute("data-loaded") && img.getAttribute("data-loaded") === img.getAttribute("src") &&
      img.complete && img.naturalWidth > 0 && (!src || img.getAttribute("src").includes(src));
  }, [pred || ""], "image " + (pred || "loaded"));
  return page.$eval("#view", (img) => ({ src: img.getAttribute("src"), w: img.naturalWidth,
    index: img.getAttribute("data-index") }));
}

async function main() {
  const ctx = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    timeout: T,
  });
  try {
    await ctx.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(cfg.base + "/")) return route.continue();
      summary.external.push(url);
      return route.abort();
    });
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(T);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // a Content-Security-Policy violation (inline style or script in the page) is a failure
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });

    // 1. patient view by resident ID: the timeline holds the study and both lab reports
    await page.goto(cfg.base + "/ui/patient?id=" + encodeURIComponent(cfg.resident_id));
    await page.waitForSelector("#timeline li");
    const entries = await page.$$eval("#timeline li", (lis) => lis.map((li) => ({
      kind: li.getAttribute("data-kind"), text: li.textContent })));
    summary.entries = entries;
    check(entries.filter((e) => e.kind === "imaging").length === 1, "one imaging entry");
    check(entries.filter((e) => e.kind === "lab").length === 2, "two lab entries");
    check(entries[0].text.includes(cfg.newest_date), "newest entry first");
    await shot(page, "patient");

    // 2. study view: series thumbnail, first image decoded
    await page.click("#timeline li[data-kind=imaging] a");
    await page.waitForSelector("#series li");
    let v = await viewLoaded(page);
    check(v.w > 0 && v.index === "0", "first image decoded (naturalWidth " + v.w + ")");
    check(await page.$eval("#view-failed", (e) => e.offsetParent === null),
      "no failure placeholder beside a decoded image");
    await until(page, () => {
      const t = document.querySelector("#series img.thumb");
      return t && t.complete && t.naturalWidth > 0;
    }, null, "thumbnail");
    check(true, "series thumbnail decoded");
    const details = await page.textContent("#study-details");
    check(details.includes(cfg.accession), "study details show the accession number");

    // 3. window preset lung, then a free window by dragging
    await page.click("#presets button[data-preset=lung]");
    v = await viewLoaded(page, "window=-600,1500");
    check(v.w > 0, "lung preset rendered");
    await shot(page, "study-lung");
    const box = await page.locator("#stage").boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 20, { steps: 4 });
    await page.mouse.up();
    v = await viewLoaded(page, "window=-520,1660");
    check(v.w > 0, "drag changed the window to -520,1660");

    // 4. scroll: the wheel goes to the next image, the arrow key to the one after
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 120);
    await page.waitForSelector("#view[data-index='1']");
    v = await viewLoaded(page);
    check(v.index === "1" && v.src.includes(cfg.sop_uids[1]), "wheel: second image");
    await page.focus("#stage");
    await page.keyboard.press("ArrowDown");
    await page.waitForSelector("#view[data-index='2']");
    v = await viewLoaded(page);
    check(v.src.includes(cfg.sop_uids[2]) && v.src.includes("window=-520,1660"),
      "arrow key: third image, window kept");
    check((await page.textContent("#pos")).includes("3 / 3"), "position shown");
    await shot(page, "study-scrolled");

    // an image that cannot be rendered: a placeholder instead of a broken page
    await page.goto(cfg.base + "/ui/study?study=" + cfg.broken_study);
    await page.waitForSelector("#view-failed:not([hidden])");
    check(await page.$eval("#view-failed", (e) => e.offsetParent !== null),
      "placeholder for an image that does not render");
    await shot(page, "study-broken");

    // 5. lab report: the newest CBC, HGB marked abnormal, the earlier report side by side
    await page.goto(cfg.base + "/ui/patient?id=" + encodeURIComponent(cfg.local_id));
    await page.waitForSelector("#timeline li");
    await page.click("#timeline li[data-kind=lab] a");
    await page.waitForSelector("#observations tbody tr");
    const abnormal = await page.$$eval("#observations tr.abnormal",
      (trs) => trs.map((tr) => tr.getAttribute("data-code")));
    check(abnormal.includes("HGB") && !abnormal.includes("WBC"), "HGB marked abnormal, WBC not");
    check((await page.$$("#observations th.earlier")).length === 1, "earlier result side by side");
    const hgb = await page.textContent("#observations tr[data-code=HGB]");
    check(hgb.includes("g/L") && hgb.includes("130-175") && hgb.includes(cfg.earlier_hgb),
      "unit, reference range and earlier value shown");
    await shot(page, "report");

    // 6. a bad resident ID: a clear message, from the URL and from the form
    await page.goto(cfg.base + "/ui/patient?id=" + cfg.bad_id);
    await page.waitForSelector("#id-error:not([hidden])");
    const msg = await page.textContent("#id-error");
    check(msg.includes("校验位"), "bad check character explained: " + msg);
    await page.fill("#pid", "P<1>");
    await page.click(".idform button");
    await until(page, () => document.getElementById("id-error").textContent.includes("字母"),
      null, "message about characters");
    check(page.url().includes(cfg.bad_id), "form not submitted with a bad id");
    await shot(page, "bad-id");

    // 7. English switch
    await page.click("#lang");
    await until(page, () => {
      const h = document.querySelector("h1");
      return h && h.textContent === "Find a patient";
    }, null, "English title");
    check(true, "English interface");

    check(errors.length === 0, "no script errors: " + errors.join("; "));
  } finally {
    await ctx.close();
  }
  check(summary.external.length === 0, "no request left the node: " + summary.external.join(" "));
}

main().then(() => {
  console.log(JSON.stringify(summary));
}, (e) => {
  console.log(JSON.stringify(summary));
  console.error(e && e.stack || String(e));
  process.exit(1);
});
