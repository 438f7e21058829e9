// End-to-end tests in Debian's Chromium (Playwright's own browser download cannot work here),
// against the production build served by `make web`, the real API and PostgreSQL, with the demo
// data. `make e2e` starts that stack on ports of its own and points FLUX_WEB_URL at it.
import { defineConfig } from "@playwright/test";

const baseURL = process.env.FLUX_WEB_URL ?? "http://127.0.0.1:3001";

export default defineConfig({
  testDir: "./e2e",
  outputDir: "./test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "off",
    screenshot: "off",
    launchOptions: {
      executablePath: process.env.FLUX_CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts/ },
    { name: "chromium", testIgnore: /auth\.setup\.ts/, dependencies: ["setup"] },
  ],
});
