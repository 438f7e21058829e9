// A token that has expired or been revoked sends the user back to sign in, and then on to the
// page they wanted. The owner's team page is how a token gets revoked: a role change or a
// disabled user ends it at once.
import { createHmac } from "node:crypto";

import { expect, test, type BrowserContext } from "@playwright/test";
import { sealData, unsealData } from "iron-session";

import { signIn, USERS } from "./helpers";

const SESSION_SECRET = process.env.FLUX_WEB_SESSION_SECRET ?? "";
const TOKEN_SECRET =
  process.env.FLUX_TOKEN_SECRET ?? "flux-development-secret-do-not-use-in-production";

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** A token exactly like the API's, signed with its key, but expired two minutes ago. */
function expiredToken(userId: string, tenantId: string, role: string): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: "HS256", typ: "at+jwt" });
  const body = b64({
    sub: userId,
    tenant_id: tenantId,
    role,
    iat: now - 3600,
    nbf: now - 3600,
    exp: now - 120,
    iss: "flux",
    aud: "flux-api",
  });
  const signature = createHmac("sha256", TOKEN_SECRET)
    .update(`${head}.${body}`)
    .digest("base64url");
  return `${head}.${body}.${signature}`;
}

async function withExpiredToken(context: BrowserContext): Promise<void> {
  const [cookie] = (await context.cookies()).filter((c) => c.name === "flux_session");
  expect(cookie).toBeDefined();
  const session = await unsealData<Record<string, string>>(cookie!.value, {
    password: SESSION_SECRET,
  });
  const token = expiredToken(session.userId!, session.tenantId!, session.role!);
  // The session itself still runs: the API is the one to refuse the token.
  await context.addCookies([
    { ...cookie!, value: await sealData({ ...session, token }, { password: SESSION_SECRET }) },
  ]);
}

test("an expired token leads back to sign in, then on to the page wanted", async ({ page }) => {
  expect(SESSION_SECRET, "make e2e gives the stack's session secret").not.toBe("");
  await page.goto("/sign-in");
  await signIn(page, USERS.chef);
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  await withExpiredToken(page.context());

  await page.goto("/account");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Faccount&reason=expired$/);
  await expect(page.getByRole("status")).toHaveText(/Your session has ended/);
  await signIn(page, USERS.chef);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("heading", { level: 1, name: "Account" })).toBeVisible();
});

test("the owner invites, changes a role and disables; the token ends each time", async ({
  browser,
}) => {
  const owner = await browser.newContext();
  const ownerPage = await owner.newPage();
  await ownerPage.goto("/team");
  await signIn(ownerPage, USERS.owner);
  await expect(ownerPage.getByRole("heading", { level: 1, name: "Team" })).toBeVisible();

  const email = `cook-${Date.now()}@trattoria-roma.example`;
  const password = "a first password for the cook";
  const invite = ownerPage.getByRole("region", { name: "Invite someone", exact: true });
  await invite.getByLabel("Email").fill(email);
  await invite.getByLabel("Role", { exact: true }).selectOption("chef");
  await invite.getByLabel("First password").fill(password);
  await invite.getByRole("button", { name: "Invite" }).click();
  await expect(invite.getByRole("status")).toHaveText(`${email} can now sign in as chef.`);
  const row = ownerPage.getByRole("row").filter({ hasText: email });
  await expect(row).toContainText("Active");

  const cook = await browser.newContext();
  const cookPage = await cook.newPage();
  await cookPage.goto("/");
  await signIn(cookPage, email, password);
  await expect(cookPage.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();

  // A new role ends the old token: the cook signs in again and is a manager now.
  await row.getByLabel(`Role of ${email}`).selectOption("manager");
  await row.getByRole("button", { name: "Change role" }).click();
  await expect(row.getByRole("status")).toHaveText(`${email} is now manager.`);
  await cookPage.goto("/account");
  await expect(cookPage).toHaveURL(/\/sign-in\?next=%2Faccount&reason=expired$/);
  await signIn(cookPage, email, password);
  await expect(cookPage.getByText(`${email} (manager)`)).toBeVisible();

  // Disabled: the token ends, and signing in again is refused.
  await row.getByRole("button", { name: `Disable ${email}` }).click();
  await expect(row.getByRole("status")).toHaveText(`${email} is disabled.`);
  await cookPage.goto("/uploads");
  await expect(cookPage).toHaveURL(/\/sign-in\?next=%2Fuploads&reason=expired$/);
  await signIn(cookPage, email, password);
  await expect(
    cookPage
      .getByRole("alert")
      .filter({ hasText: "The e-mail address or the password is not correct." }),
  ).toBeVisible();
  await owner.close();
  await cook.close();
});
