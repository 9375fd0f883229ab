// share.js: a cloud film share (云胶片) on a phone-sized chromium (390x844), driven by
// test_share.py with JSON argv[2] {base, ok, revoked, pinned, pin, shots, profile}: the share
// opens and shows an image, a revoked one answers 410, a wrong PIN is refused, the right one
// opens it. Requests to anything but the node are refused. Throws (exit 1) on a failed check.
"use strict";
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const T = 60000;

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

async function imagesShown(page) {
  const deadline = Date.now() + T;
  for (;;) {
    const n = await page.evaluate(() => Array.from(document.querySelectorAll("img.frame"))
      .filter((i) => i.complete && i.naturalWidth > 0).length);
    if (n > 0) return n;
    if (Date.now() > deadline) throw new Error("timed out waiting for an image");
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const ctx = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    timeout: T,
  });
  const external = [];
  try {
    await ctx.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(cfg.base + "/")) return route.continue();
      external.push(url);
      return route.abort();
    });
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);

    let r = await page.goto(cfg.base + "/s/" + cfg.ok);
    check(r.status() === 200, "share opens (" + r.status() + ")");
    check((await page.textContent("h1")).includes("云胶片"), "viewer title");
    check(await imagesShown(page) > 0, "an image is shown");
    const w = await page.evaluate(() => document.querySelector("img.frame").getBoundingClientRect().width);
    check(w > 300 && w <= 390, "image fits the phone width (" + w + ")");
    await page.screenshot({ path: path.join(cfg.shots, "share-open.png"), fullPage: true });

    r = await page.goto(cfg.base + "/s/" + cfg.revoked);
    check(r.status() === 410, "revoked share answers 410 (" + r.status() + ")");
    check((await page.textContent("body")).includes("已失效"), "revoked page says so");
    check((await page.$$("img.frame")).length === 0, "no image on the revoked page");
    await page.screenshot({ path: path.join(cfg.shots, "share-revoked.png"), fullPage: true });

    r = await page.goto(cfg.base + "/s/" + cfg.pinned);
    check(r.status() === 200 && (await page.$("#pin")), "PIN form shown");
    const wrong = String((parseInt(cfg.pin, 10) + 1) % 1000000).padStart(6, "0");
    await page.fill("#pin", wrong);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    check((await page.textContent("body")).includes("密码错误"), "wrong PIN refused");
    check((await page.$$("img.frame")).length === 0, "no image after a wrong PIN");
    await page.screenshot({ path: path.join(cfg.shots, "share-wrong-pin.png"), fullPage: true });
    await page.fill("#pin", cfg.pin);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    check(await imagesShown(page) > 0, "the right PIN opens it and shows an image");
    await page.screenshot({ path: path.join(cfg.shots, "share-pin-open.png"), fullPage: true });
    check(external.length === 0, "no request left the node: " + external.join(" "));
  } finally {
    await ctx.close();
  }
  console.log(JSON.stringify({ ok: true }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
