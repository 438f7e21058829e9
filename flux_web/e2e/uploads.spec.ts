// An upload from the browser, followed through the real pipeline (the Dagster daemon's sensor
// starts its run): its status changes by itself, and its bad line is shown with its reason.
import { expect, test } from "@playwright/test";

import { stateFile } from "./helpers";

test.use({ storageState: stateFile("manager") });

test("an upload with a bad line shows that line's number and reason once the pipeline has run", async ({
  page,
}) => {
  test.setTimeout(300_000);
  // Days long before the demo's history: they add to it and replace nothing of it.
  const stamp = Date.now();
  const name = `till-export-${stamp}.csv`;
  // Different bytes each run, or the stack (kept between runs) sees the same file again.
  const csv = [
    "date,sales,covers",
    `2019-03-01,${1000 + (stamp % 1000)}.50,31`,
    "2019-03-02,twelve hundred,29",
    "2019-03-03,1388.00,35",
    "",
  ].join("\n");
  await page.goto("/uploads");
  await page.getByLabel("Choose a file").setInputFiles({
    name,
    mimeType: "text/csv",
    buffer: Buffer.from(csv),
  });
  await expect(page).toHaveURL(/\/uploads\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();

  // No reload here: the page follows the pipeline by itself.
  await expect(page.getByRole("heading", { name: /Status: Loaded/ })).toBeVisible({
    timeout: 240_000,
  });
  const refused = page
    .getByRole("region", { name: "Refused lines", exact: true })
    .getByRole("row")
    .nth(1);
  await expect(refused.getByRole("cell")).toHaveText([
    "3",
    "sales",
    "twelve hundred",
    /sales is not a number/,
  ]);
  await expect(page.getByText("3 in the file, 2 loaded, 1 refused")).toBeVisible();

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download the full rejection report (CSV)" }).click();
  const report = await (await download).createReadStream();
  let text = "";
  for await (const chunk of report) text += chunk.toString();
  expect(text.split("\r\n")[0]).toBe("line,column,value,reason");
  expect(text).toContain("3,sales,twelve hundred,");

  await page.goto("/uploads");
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row.getByRole("cell").nth(1)).toHaveText("Loaded");
  await expect(row).toContainText("Mar 1, 2019 – Mar 3, 2019");
});

test("a file that is not a CSV is refused at once, with a sentence", async ({ page }) => {
  await page.goto("/uploads");
  await page.getByLabel("Choose a file").setInputFiles({
    name: "report.pdf",
    mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
  });
  await expect(
    page
      .getByRole("alert")
      .filter({ hasText: /looks like a PDF document; export the data as CSV/i }),
  ).toBeVisible();
});
