// Signs each demo user in once, through the sign-in page, and keeps the browser's state for the
// specs (as full-stack-fastapi-template's auth.setup.ts does).
import { expect, test as setup } from "@playwright/test";

import { signIn, stateFile, USERS, type Who } from "./helpers";

for (const who of Object.keys(USERS) as Who[]) {
  setup(`sign in as ${who}`, async ({ page }) => {
    await page.goto("/");
    await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
    await signIn(page, USERS[who]);
    await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
    await page.context().storageState({ path: stateFile(who) });
  });
}
