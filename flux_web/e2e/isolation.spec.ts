// Tenant A's session never shows tenant B's data, even when B's URLs are typed in.
import { expect, test } from "@playwright/test";

import { api, apiToken, stateFile, USERS } from "./helpers";

test.use({ storageState: stateFile("owner") });

interface Uploads {
  items: { upload_id: string; filename: string }[];
}

test("B's upload, typed into A's browser, is simply not found", async ({ page }) => {
  const tokenB = await apiToken(USERS.otherOwner);
  const b = (await api<Uploads>(tokenB, "/v1/uploads")).items[0]!;
  const profileB = await api<{ tenant_id: string; name: string }>(tokenB, "/v1/tenant");

  const response = await page.goto(`/uploads/${b.upload_id}`);
  expect(response?.status()).toBe(404);
  const html = await page.content();
  for (const marker of [b.filename, profileB.name, profileB.tenant_id]) {
    expect(html).not.toContain(marker);
  }
  const report = await page.request.get(`/bff/uploads/${b.upload_id}/rejections`);
  expect(report.status()).toBe(404);
  expect(await report.text()).not.toContain(b.filename);
});

test("no page of A's holds anything of B's", async ({ page }) => {
  const tokenB = await apiToken(USERS.otherOwner);
  const profileB = await api<{ tenant_id: string; name: string }>(tokenB, "/v1/tenant");
  const uploadsB = await api<Uploads>(tokenB, "/v1/uploads");
  const markers = [profileB.name, profileB.tenant_id, ...uploadsB.items.map((u) => u.upload_id)];
  for (const path of ["/", "/uploads", "/models", "/team", "/account"]) {
    await page.goto(path);
    const html = await page.content();
    for (const marker of markers) expect(html, `${path} shows ${marker}`).not.toContain(marker);
  }
  await expect(page.getByRole("link", { name: /Trattoria Roma/ })).toBeVisible();
});
