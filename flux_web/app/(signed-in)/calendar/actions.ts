"use server";

// What owners and managers tell Flux about their days, through the API (which checks the role
// again and scopes every change to the restaurant).
import { revalidatePath } from "next/cache";

import { apiClient } from "@/lib/api";
import { problemSentence, type Problem } from "@/lib/problems";
import { requireSession } from "@/lib/session";

export interface CalendarState {
  error?: string;
  done?: string;
}

type Kind = "closed" | "event" | "promotion";
type Metric = "sales" | "covers";
const KINDS: Kind[] = ["closed", "event", "promotion"];
const METRICS: Metric[] = ["sales", "covers"];
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

function failed(error: unknown, response: Response): CalendarState {
  return { error: problemSentence(error as Problem, response.status) };
}

function changed(): void {
  revalidatePath("/calendar");
  revalidatePath("/");
}

export async function tellDay(_: CalendarState, form: FormData): Promise<CalendarState> {
  const session = await requireSession();
  const date = String(form.get("date") ?? "");
  const kind = String(form.get("kind") ?? "") as Kind;
  const note = String(form.get("note") ?? "");
  if (!ISO_DAY.test(date) || !KINDS.includes(kind)) {
    return { error: "Choose a day and what happens on it." };
  }
  const { data, error, response } = await apiClient(session.token).POST("/v1/calendar/days", {
    body: { date, kind, note },
  });
  if (!data) return failed(error, response);
  changed();
  return { done: `${data.date} is marked as ${data.kind}.` };
}

export async function forgetDay(_: CalendarState, form: FormData): Promise<CalendarState> {
  const session = await requireSession();
  const dayId = String(form.get("day_id") ?? "");
  const { error, response } = await apiClient(session.token).DELETE("/v1/calendar/days/{day_id}", {
    params: { path: { day_id: dayId } },
  });
  if (!response.ok) return failed(error, response);
  changed();
  return { done: "Removed." };
}

export async function setNumber(_: CalendarState, form: FormData): Promise<CalendarState> {
  const session = await requireSession();
  const day = String(form.get("day") ?? "");
  const metric = String(form.get("metric") ?? "") as Metric;
  const value = Number(String(form.get("value") ?? "").replace(",", "."));
  const reason = String(form.get("reason") ?? "");
  if (!ISO_DAY.test(day) || !METRICS.includes(metric) || !Number.isFinite(value)) {
    return { error: "Choose a day and a metric, and enter a number." };
  }
  const { data, error, response } = await apiClient(session.token).PUT(
    "/v1/forecasts/adjustments/{metric}/{day}",
    { params: { path: { metric, day } }, body: { value, reason } },
  );
  if (!data) return failed(error, response);
  changed();
  return { done: `Your number for ${data.date} is set.` };
}

export async function removeNumber(_: CalendarState, form: FormData): Promise<CalendarState> {
  const session = await requireSession();
  const day = String(form.get("day") ?? "");
  const metric = String(form.get("metric") ?? "") as Metric;
  const { error, response } = await apiClient(session.token).DELETE(
    "/v1/forecasts/adjustments/{metric}/{day}",
    { params: { path: { metric, day } } },
  );
  if (!response.ok) return failed(error, response);
  changed();
  return { done: "Back to the model's number." };
}
