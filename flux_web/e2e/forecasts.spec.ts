import { expect, test, type Page } from "@playwright/test";

import { api, apiToken, isoDay, stateFile, USERS } from "./helpers";

interface Forecasts {
  items: { date: string; metric: string; p10: number; p50: number; p90: number }[];
}

function dayCell(date: string, locale = "en-US"): string {
  return new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(new Date(`${date}T00:00:00Z`));
}

async function salesRow(page: Page, date: string) {
  const table = page.getByRole("table", { name: /^Sales, day by day/ });
  return table
    .getByRole("row")
    .filter({ has: page.getByRole("rowheader", { name: dayCell(date), exact: true }) });
}

test.describe("as the owner", () => {
  test.use({ storageState: stateFile("owner") });

  test("the forecast page's P50 for tomorrow is the API's", async ({ page }) => {
    const tomorrow = isoDay(1);
    const token = await apiToken(USERS.owner);
    const forecast = await api<Forecasts>(
      token,
      `/v1/forecasts?metric=sales&start=${tomorrow}&end=${tomorrow}`,
    );
    const point = forecast.items[0]!;
    await page.goto("/");
    const cells = (await salesRow(page, tomorrow)).getByRole("cell");
    const money = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency: "USD",
      maximumFractionDigits: 0,
    });
    const expected = point.p90 === 0 ? "—" : money.format(point.p50);
    await expect(cells.nth(1)).toHaveText(expected);
    if (point.p90 > 0) {
      await expect(cells.nth(2)).toHaveText(
        `${money.format(point.p10)} – ${money.format(point.p90)}`,
      );
    }
  });

  test("the chart is an image named for the forecast, with the actuals beside it", async ({
    page,
  }) => {
    await page.goto("/");
    const chart = page.getByRole("img", { name: /^Forecast of sales for 28 days/ });
    await expect(chart).toBeVisible();
    await expect(page.getByRole("img", { name: /^Forecast of covers/ })).toBeVisible();
    await expect(page.getByText("Actual, last 6 weeks").first()).toBeVisible();
    await expect(page.getByText(/How far to trust it:/).first()).toBeVisible();
    await expect(page.getByText(/updated .* UTC\./).first()).toBeVisible();
  });

  test("public holidays and closed days are marked as the API says", async ({ page }) => {
    const token = await apiToken(USERS.owner);
    const [start, end] = [isoDay(0), isoDay(27)];
    const holidays = await api<{ date: string; name: string }[]>(
      token,
      `/v1/calendar?start=${start}&end=${end}`,
    );
    const forecast = await api<Forecasts>(
      token,
      `/v1/forecasts?metric=sales&start=${start}&end=${end}`,
    );
    await page.goto("/");
    const table = page.getByRole("table", { name: /^Sales, day by day/ });
    const holidayTags = await table.getByText(/^Holiday: /).allTextContents();
    expect(holidayTags.sort()).toEqual(holidays.map((h) => `Holiday: ${h.name}`).sort());
    const closed = forecast.items.filter((p) => p.p90 === 0).length;
    await expect(table.getByText("Closed", { exact: true })).toHaveCount(closed);
  });
});

test.describe("as the chef", () => {
  test.use({ storageState: stateFile("chef") });

  test("the forecast, without the actual sales", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("img", { name: /^Forecast of sales/ })).toBeVisible();
    await expect(page.getByText("Actual, last 6 weeks")).toHaveCount(0);
  });
});

test.describe("as a British restaurant's owner", () => {
  test.use({ storageState: stateFile("otherOwner") });

  test("money and dates are written as in Great Britain", async ({ page }) => {
    await page.goto("/");
    const row = page
      .getByRole("table", { name: /^Sales, day by day/ })
      .getByRole("row")
      .nth(1);
    await expect(row.getByRole("rowheader")).toHaveText(dayCell(isoDay(0), "en-GB"));
    await expect(row.getByRole("cell").nth(1)).toHaveText(/^(£[\d,]+|—)$/);
  });
});
