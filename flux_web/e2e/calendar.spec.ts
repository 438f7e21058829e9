import { expect, test, type Page } from "@playwright/test";

import { isoDay, stateFile } from "./helpers";

function dayCell(date: string): string {
  return new Intl.DateTimeFormat("en-US", {
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(new Date(`${date}T00:00:00Z`));
}

function salesRow(page: Page, date: string) {
  return page
    .getByRole("table", { name: /^Sales, day by day/ })
    .getByRole("row")
    .filter({ has: page.getByRole("rowheader", { name: dayCell(date), exact: true }) });
}

test.describe("as the manager", () => {
  test.use({ storageState: stateFile("manager") });

  test("a closure told is zero on the forecast, a number set shows beside the model's", async ({
    page,
  }) => {
    const closed = isoDay(5);
    const adjusted = isoDay(6);
    await page.goto("/calendar");
    const days = page.getByRole("region", { name: "Days you told Flux about" });
    await days.getByLabel("Day", { exact: true }).fill(closed);
    await days.getByLabel("What happens", { exact: true }).selectOption("closed");
    await days.getByLabel("Note", { exact: true }).fill("e2e staff outing");
    await days.getByRole("button", { name: "Add the day" }).click();
    await expect(days.getByRole("status")).toHaveText(`${closed} is marked as closed.`);
    await expect(days.getByRole("cell", { name: "e2e staff outing" })).toBeVisible();

    const numbers = page.getByRole("region", { name: "Your own numbers" });
    await numbers.getByLabel("Day", { exact: true }).fill(adjusted);
    await numbers.getByLabel("Of", { exact: true }).selectOption("sales");
    await numbers.getByLabel("Your number", { exact: true }).fill("4321");
    await numbers.getByLabel("Why", { exact: true }).fill("e2e catering order");
    await numbers.getByRole("button", { name: "Set the number" }).click();
    await expect(numbers.getByRole("status")).toHaveText(`Your number for ${adjusted} is set.`);
    await expect(numbers.getByRole("cell", { name: "$4,321" })).toBeVisible();

    await page.goto("/");
    const closedCells = salesRow(page, closed).getByRole("cell");
    await expect(closedCells.nth(1)).toHaveText("—");
    await expect(closedCells.last()).toHaveText("Closed");
    const sales = page.getByRole("table", { name: /^Sales, day by day/ });
    await expect(sales.getByRole("columnheader", { name: "Your number" })).toBeVisible();
    const adjustedCells = salesRow(page, adjusted).getByRole("cell");
    await expect(adjustedCells.nth(3)).toHaveText("$4,321");
    await expect(adjustedCells.last()).toHaveText("Yours: e2e catering order");

    // Taken back, the day is the model's again.
    await page.goto("/calendar");
    await days.getByRole("button", { name: `Remove closed on ${closed}` }).click();
    await expect(days.getByRole("cell", { name: "e2e staff outing" })).toHaveCount(0);
    await numbers.getByRole("button", { name: `Remove sales number for ${adjusted}` }).click();
    await expect(numbers.getByRole("cell", { name: "$4,321" })).toHaveCount(0);
    await page.goto("/");
    await expect(salesRow(page, closed).getByRole("cell").last()).not.toHaveText("Closed");
    await expect(sales.getByRole("columnheader", { name: "Your number" })).toHaveCount(0);
  });
});
