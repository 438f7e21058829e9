"use server";

// The owner's changes to the team, through the API (which checks the role again and scopes
// every change to the owner's restaurant).
import { revalidatePath } from "next/cache";

import { apiClient } from "@/lib/api";
import { problemSentence, type Problem } from "@/lib/problems";
import { requireSession } from "@/lib/session";
import type { Role } from "@/lib/roles";

export interface TeamState {
  error?: string;
  done?: string;
}

const ROLES: Role[] = ["owner", "manager", "chef"];

function role(value: FormDataEntryValue | null): Role | null {
  return ROLES.includes(value as Role) ? (value as Role) : null;
}

export async function inviteUser(_: TeamState, form: FormData): Promise<TeamState> {
  const session = await requireSession();
  const email = String(form.get("email") ?? "").trim();
  const chosen = role(form.get("role"));
  const password = String(form.get("password") ?? "");
  if (!email || !chosen) return { error: "Enter an e-mail address and choose a role." };
  const answer = await apiClient(session.token).POST("/v1/users", {
    body: { email, role: chosen, password },
  });
  if (!answer.data) {
    return { error: problemSentence(answer.error as Problem, answer.response.status) };
  }
  revalidatePath("/team");
  return { done: `${answer.data.email} can now sign in as ${answer.data.role}.` };
}

export async function updateUser(_: TeamState, form: FormData): Promise<TeamState> {
  const session = await requireSession();
  const userId = String(form.get("user_id") ?? "");
  const body: { role?: Role; disabled?: boolean } = {};
  const chosen = role(form.get("role"));
  if (chosen) body.role = chosen;
  const disabled = form.get("disabled");
  if (disabled === "true" || disabled === "false") body.disabled = disabled === "true";
  const answer = await apiClient(session.token).PATCH("/v1/users/{user_id}", {
    params: { path: { user_id: userId } },
    body,
  });
  if (!answer.data) {
    return { error: problemSentence(answer.error as Problem, answer.response.status) };
  }
  revalidatePath("/team");
  const what =
    body.disabled === true
      ? "is disabled"
      : body.disabled === false
        ? "is enabled again"
        : `is now ${answer.data.role}`;
  return { done: `${answer.data.email} ${what}.` };
}
