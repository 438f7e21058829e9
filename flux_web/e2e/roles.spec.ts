import { expect, test } from "@playwright/test";

import { api, apiToken, stateFile, USERS } from "./helpers";

test.describe("as the chef", () => {
  test.use({ storageState: stateFile("chef") });

  test("the navigation shows only what a chef may do", async ({ page }) => {
    await page.goto("/");
    const links = page.getByRole("navigation", { name: "Main" }).getByRole("link");
    await expect(links).toHaveText(["Forecasts", "Account"]);
  });

  test("uploads, models and the team are not allowed, and show no data", async ({ page }) => {
    const token = await apiToken(USERS.owner);
    const uploads = await api<{ items: { upload_id: string; filename: string }[] }>(
      token,
      "/v1/uploads",
    );
    const own = uploads.items[0]!;
    for (const path of ["/uploads", `/uploads/${own.upload_id}`, "/models", "/team", "/calendar"]) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
      await expect(page.getByText(own.filename)).toHaveCount(0);
      await expect(page.getByText(USERS.manager)).toHaveCount(0);
    }
    const report = await page.request.get(`/bff/uploads/${own.upload_id}/rejections`);
    expect(report.status()).toBe(403);
  });
});

test.describe("as the manager", () => {
  test.use({ storageState: stateFile("manager") });

  test("uploads and models, but not the team", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link")).toHaveText([
      "Forecasts",
      "Calendar",
      "Uploads",
      "Models",
      "Account",
    ]);
    await page.goto("/team");
    await expect(page.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
    await expect(page.getByText(USERS.chef)).toHaveCount(0);
    await page.goto("/models");
    await expect(page.getByRole("heading", { name: "Sales" })).toBeVisible();
    await expect(page.getByText(/“same day last week”/).first()).toBeVisible();
  });
});
