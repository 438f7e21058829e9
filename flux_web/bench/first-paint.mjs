// The forecast page loaded LOADS times in headless Chromium, signed in: for each load, the time
// from navigation to the first contentful paint, and whether the server's HTML already held the
// data (so the first paint shows it). Then the JavaScript the page ships, gzip-compressed.
// Prints one JSON object. Run by bench/bench_web.py, which starts the stack it measures.
import { gzipSync } from "node:zlib";

import { chromium } from "@playwright/test";

const base = process.env.BENCH_WEB_URL;
const loads = Number(process.env.BENCH_LOADS ?? "50");
const expectText = process.env.BENCH_EXPECT_TEXT; // a number the forecast table must show

const browser = await chromium.launch({
  executablePath: process.env.FLUX_CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.goto(`${base}/sign-in`);
await page.getByLabel("Email").fill(process.env.BENCH_EMAIL);
await page.getByLabel("Password").fill(process.env.BENCH_PASSWORD);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(`${base}/`);

const scripts = new Map();
page.on("response", async (response) => {
  if (response.request().resourceType() === "script" && !scripts.has(response.url())) {
    scripts.set(response.url(), gzipSync(await response.body()).length);
  }
});

const paints = [];
const firstBytes = []; // when the server's HTML began to arrive
let withData = 0;
for (let i = 0; i < loads; i += 1) {
  // A new page each time: no state kept in the browser but the session cookie, cache off.
  const fresh = await context.newPage();
  await fresh.route("**/*", (route) => route.continue());
  const response = await fresh.goto(`${base}/`, { waitUntil: "load" });
  const html = await response.text();
  if (expectText && html.includes(expectText) && html.includes('role="img"')) withData += 1;
  const fcp = await fresh.evaluate(
    () =>
      new Promise((resolve) => {
        const found = performance.getEntriesByName("first-contentful-paint")[0];
        if (found) return resolve(found.startTime);
        new PerformanceObserver((list) => resolve(list.getEntries()[0].startTime)).observe({
          type: "paint",
          buffered: true,
        });
      }),
  );
  paints.push(fcp);
  firstBytes.push(
    await fresh.evaluate(() => performance.getEntriesByType("navigation")[0].responseStart),
  );
  await fresh.close();
}
// The JavaScript of one load of the page, from a fresh page with the cache empty.
scripts.clear();
const last = await context.newPage();
last.on("response", async (response) => {
  if (response.request().resourceType() === "script" && !scripts.has(response.url())) {
    scripts.set(response.url(), gzipSync(await response.body()).length);
  }
});
await last.route("**/*", (route) => route.continue());
await last.goto(`${base}/`, { waitUntil: "networkidle" });
await browser.close();
process.stdout.write(
  `${JSON.stringify({
    paints,
    firstBytes,
    withData,
    loads,
    scriptsGzipBytes: [...scripts.values()].reduce((a, b) => a + b, 0),
    scripts: scripts.size,
  })}\n`,
);
