import { expect, test } from "@playwright/test";

import { signIn, stateFile, USERS } from "./helpers";

test("a wrong password is refused with a sentence, and nothing else happens", async ({ page }) => {
  await page.goto("/sign-in");
  await signIn(page, USERS.owner, "not the password at all");
  await expect(
    page
      .getByRole("alert")
      .filter({ hasText: "The e-mail address or the password is not correct." }),
  ).toBeVisible();
  await expect(page).toHaveURL(/\/sign-in/);
  expect((await page.context().cookies()).map((c) => c.name)).not.toContain("flux_session");
});

test("each role signs in and is named in the page", async ({ browser }) => {
  for (const [role, email] of [
    ["owner", USERS.owner],
    ["manager", USERS.manager],
    ["chef", USERS.chef],
  ] as const) {
    const context = await browser.newContext({ storageState: stateFile(role) });
    const page = await context.newPage();
    await page.goto("/");
    await expect(page.getByText(`${email} (${role})`)).toBeVisible();
    await context.close();
  }
});

test("no script in the page can read a token", async ({ page }) => {
  await page.goto("/sign-in");
  await signIn(page, USERS.manager);
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  const readable = await page.evaluate(() => ({
    cookie: document.cookie,
    local: Object.keys(localStorage).map((k) => localStorage.getItem(k)),
    session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
  }));
  expect(readable.cookie).not.toContain("flux_session");
  expect(readable.cookie).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // a JWT
  expect(readable.local).toEqual([]);
  expect(readable.session).toEqual([]);
  const html = await page.content();
  expect(html).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  const [cookie] = (await page.context().cookies()).filter((c) => c.name === "flux_session");
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: true, path: "/" });
  expect(cookie!.value).not.toMatch(/eyJ/); // sealed: the token is not in it as text
});

test("a deep link leads through sign-in to the page asked for", async ({ page }) => {
  await page.goto("/models");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fmodels$/);
  await signIn(page, USERS.owner);
  await expect(page).toHaveURL(/\/models$/);
  await expect(page.getByRole("heading", { level: 1, name: "Models" })).toBeVisible();
});

test("sign-out ends the session", async ({ page }) => {
  await page.goto("/sign-in");
  await signIn(page, USERS.chef);
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  expect((await page.context().cookies()).map((c) => c.name)).not.toContain("flux_session");
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
});

test("the sign-in form works by keyboard alone", async ({ page }) => {
  await page.goto("/sign-in");
  await page.keyboard.press("Tab"); // the skip link is not on this page: the e-mail field
  await expect(page.getByLabel("Email")).toBeFocused();
  await page.keyboard.type(USERS.chef);
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Password")).toBeFocused();
  await page.keyboard.type("flux-demo-password");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
});
