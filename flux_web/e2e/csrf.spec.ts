// State-changing requests to the dashboard's server must come from its own pages.
import { expect, test } from "@playwright/test";

import { stateFile } from "./helpers";

test.use({ storageState: stateFile("manager") });

async function csrfToken(page: import("@playwright/test").Page): Promise<string> {
  await page.goto("/uploads");
  // The drop zone is given the session's token in the page (the JWT never is).
  const found = /\\?"csrf\\?":\\?"([\w-]{20,})\\?"/.exec(await page.content());
  expect(found).not.toBeNull();
  return found![1]!;
}

test("an upload without the page's token is refused", async ({ page }) => {
  await page.goto("/uploads");
  const response = await page.request.post("/bff/uploads", {
    headers: { Origin: new URL(page.url()).origin },
    multipart: {
      file: { name: "sales.csv", mimeType: "text/csv", buffer: Buffer.from("date,sales\n") },
    },
  });
  expect(response.status()).toBe(403);
  expect((await response.json()).sentence).toMatch(/did not come from Flux's own page/);
});

test("an upload from another site's page is refused, even with the token", async ({ page }) => {
  const token = await csrfToken(page);
  const response = await page.request.post("/bff/uploads", {
    headers: { Origin: "https://evil.example", "x-flux-csrf": token },
    multipart: {
      file: { name: "sales.csv", mimeType: "text/csv", buffer: Buffer.from("date,sales\n") },
    },
  });
  expect(response.status()).toBe(403);
});

test("with the token and from our own page, the request reaches the API", async ({ page }) => {
  const token = await csrfToken(page);
  const response = await page.request.post("/bff/uploads", {
    headers: {
      Origin: new URL(page.url()).origin,
      "x-flux-csrf": token,
      "Content-Type": "text/plain",
    },
    data: "not a form",
  });
  expect(response.status()).toBe(400); // past the guard: refused for its content, not its origin
  expect((await response.json()).sentence).toBe("Choose a file to upload.");
});
