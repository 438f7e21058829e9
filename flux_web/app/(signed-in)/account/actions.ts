"use server";

import { apiClient } from "@/lib/api";
import { problemSentence, type Problem } from "@/lib/problems";
import { requireSession } from "@/lib/session";

export interface PasswordState {
  error?: string;
  done?: string;
}

export async function changePassword(_: PasswordState, form: FormData): Promise<PasswordState> {
  const session = await requireSession();
  const current = String(form.get("current_password") ?? "");
  const next = String(form.get("new_password") ?? "");
  if (next !== String(form.get("confirm_password") ?? "")) {
    return { error: "The new password and its confirmation are not the same." };
  }
  const answer = await apiClient(session.token).POST("/v1/users/me/password", {
    body: { current_password: current, new_password: next },
  });
  if (answer.response.status !== 204) {
    return { error: problemSentence(answer.error as Problem, answer.response.status) };
  }
  return { done: "Your password is changed." };
}
