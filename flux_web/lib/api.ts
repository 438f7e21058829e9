// Every call the dashboard's server makes to the Flux API, typed by the client generated from
// the API's OpenAPI document (lib/api/schema.d.ts). Components receive data; they never fetch.
import "server-only";

import createClient from "openapi-fetch";
import { redirect } from "next/navigation";
import { cache } from "react";

import type { components, paths } from "./api/schema";
import { config } from "./config";
import { problemSentence, type Problem } from "./problems";
import { currentPath, requireSession, signInUrl } from "./session";

export type Schemas = components["schemas"];
export type ForecastPoint = Schemas["ForecastPoint"];
export type ForecastModel = Schemas["ForecastModel"];
export type CalendarDay = Schemas["CalendarDay"];
export type DailyActual = Schemas["DailyActual"];
export type TenantProfile = Schemas["TenantProfile"];
export type UploadSummary = Schemas["UploadSummary"];
export type UploadReport = Schemas["UploadReport"];
export type CurrentModel = Schemas["ModelAccuracy"];
export type UserPublic = Schemas["UserPublic"];
export type UserRole = UserPublic["role"];
export type ToldDay = Schemas["ToldDay"];
export type Adjustment = Schemas["Adjustment"];
export type AdjustmentAccuracy = Schemas["AdjustmentAccuracy"];
export type LiveAccuracy = Schemas["LiveAccuracy"];

/** An API answer that is not a success, with the sentence to show for it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly sentence: string,
  ) {
    super(sentence);
    this.name = "ApiError";
  }
}

export function apiClient(token?: string) {
  return createClient<paths>({
    baseUrl: config().apiUrl,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer; off to sign in on 401 (expired or revoked token). */
export async function unwrap<T>(answer: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await answer;
  if (response.ok && data !== undefined) return data;
  if (response.status === 401) redirect(signInUrl(await currentPath(), "expired"));
  throw new ApiError(response.status, problemSentence(error as Problem, response.status));
}

async function signedIn() {
  const session = await requireSession();
  return { session, api: apiClient(session.token) };
}

// Once per request: the layout and the page both need it.
export const getTenant = cache(async (): Promise<TenantProfile> => {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/tenant"));
});

export async function getForecasts(start: string, end: string) {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/forecasts", { params: { query: { start, end, limit: 1000 } } }));
}

export async function getCalendar(start: string, end: string): Promise<CalendarDay[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/calendar", { params: { query: { start, end } } }));
}

export async function getDailySales(start: string, end: string): Promise<DailyActual[]> {
  const { api } = await signedIn();
  const page = await unwrap(
    api.GET("/v1/sales/daily", { params: { query: { start, end, limit: 1000 } } }),
  );
  return page.items;
}

export async function getCurrentModels(): Promise<CurrentModel[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/models/current"));
}

/** How the forecasts shown did, per metric over its last 7 and 28 days with actuals. */
export async function getLiveAccuracy(): Promise<LiveAccuracy[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/accuracy"));
}

export async function listUploads(limit = 50): Promise<UploadSummary[]> {
  const { api } = await signedIn();
  const page = await unwrap(api.GET("/v1/uploads", { params: { query: { limit } } }));
  return page.items;
}

export async function getUpload(uploadId: string): Promise<UploadReport> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/uploads/{upload_id}", { params: { path: { upload_id: uploadId } } }));
}

export async function listUsers(): Promise<UserPublic[]> {
  const { api } = await signedIn();
  const page = await unwrap(api.GET("/v1/users", { params: { query: { limit: 1000 } } }));
  return page.items;
}

export async function listToldDays(start: string, end: string): Promise<ToldDay[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/calendar/days", { params: { query: { start, end } } }));
}

export async function listAdjustments(start: string, end: string): Promise<Adjustment[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/forecasts/adjustments", { params: { query: { start, end } } }));
}

export async function getAdjustmentAccuracy(): Promise<AdjustmentAccuracy[]> {
  const { api } = await signedIn();
  return unwrap(api.GET("/v1/forecasts/adjustments/accuracy"));
}
