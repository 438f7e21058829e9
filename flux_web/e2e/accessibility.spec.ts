// WCAG 2.1 AA (axe-core's rules, contrast included) on every page, on a desktop and on a phone
// 375 px wide, where nothing may run off the side of the screen.
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";

import { stateFile } from "./helpers";

const PAGES = ["/", "/calendar", "/uploads", "/models", "/team", "/account"];

for (const [device, viewport] of [
  ["desktop", { width: 1280, height: 900 }],
  ["phone", { width: 375, height: 800 }],
] as const) {
  test.describe(`on a ${device}`, () => {
    test.use({ storageState: stateFile("owner"), viewport });

    for (const path of PAGES) {
      test(`${path} meets WCAG 2.1 AA`, async ({ page }) => {
        await page.goto(path);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        const results = await new AxeBuilder({ page })
          .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
          .analyze();
        expect(results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`)).toEqual([]);
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect(overflow, "the page is wider than the screen").toBeLessThanOrEqual(0);
      });
    }
  });
}

test("the sign-in page meets WCAG 2.1 AA", async ({ page }) => {
  await page.goto("/sign-in");
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21aa"])
    .analyze();
  expect(results.violations.map((v) => v.id)).toEqual([]);
});
