// What the browser tests share: the demo's users, signing in through the page, and the API
// itself (to compare what the page shows with what the API answers).
import { expect, type Page } from "@playwright/test";

export const PASSWORD = "flux-demo-password";
export const API_URL = process.env.FLUX_API_URL ?? "http://127.0.0.1:8000";

export const USERS = {
  owner: "owner@trattoria-roma.example",
  manager: "manager@trattoria-roma.example",
  chef: "chef@trattoria-roma.example",
  otherOwner: "owner@harbour-cafe.example",
} as const;

export type Who = keyof typeof USERS;

export function stateFile(who: Who): string {
  return `e2e/.auth/${who}.json`;
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function apiToken(email: string, password = PASSWORD): Promise<string> {
  const response = await fetch(`${API_URL}/v1/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: email, password }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

export async function api<T>(token: string, path: string): Promise<T> {
  const response = await fetch(`${API_URL}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

export function isoDay(offset = 0): string {
  const day = new Date();
  day.setUTCDate(day.getUTCDate() + offset);
  return day.toISOString().slice(0, 10);
}
