"use server";

// Signing in and out through the dashboard's server (the backend-for-frontend): the e-mail and
// password go to the API from here; the token it gives comes back only inside the sealed,
// httpOnly session cookie. Server Actions: POST only, and Next.js refuses one whose Origin is not
// this site's (CSRF), besides the cookie's SameSite=Lax.
import { redirect } from "next/navigation";

import { apiClient } from "@/lib/api";
import { problemSentence, type Problem } from "@/lib/problems";
import { clearSession, writeSession } from "@/lib/session";
import { newCsrfToken, safeNext } from "@/lib/session-core";
import type { Role } from "@/lib/roles";

export interface SignInState {
  error?: string;
  email?: string;
}

export async function signIn(_: SignInState, form: FormData): Promise<SignInState> {
  const email = String(form.get("email") ?? "").trim();
  const password = String(form.get("password") ?? "");
  const next = safeNext(String(form.get("next") ?? "/"));
  if (!email || !password) return { error: "Enter your e-mail address and your password.", email };

  const api = apiClient();
  let answer;
  try {
    answer = await api.POST("/v1/auth/token", {
      body: { username: email, password, grant_type: "password", scope: "" },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
  } catch {
    return { error: "Flux is not available right now. Please try again in a moment.", email };
  }
  if (!answer.data) {
    const status = answer.response.status;
    const error =
      status === 401
        ? "The e-mail address or the password is not correct."
        : problemSentence(answer.error as Problem, status);
    return { error, email };
  }
  const token = answer.data.access_token;
  const signedIn = apiClient(token);
  const [me, tenant] = await Promise.all([
    signedIn.GET("/v1/users/me"),
    signedIn.GET("/v1/tenant"),
  ]);
  if (!me.data || !tenant.data) {
    const failed = me.data ? tenant : me;
    return { error: problemSentence(failed.error as Problem, failed.response.status), email };
  }
  await writeSession({
    token,
    expiresAt: Date.now() + answer.data.expires_in * 1000,
    userId: me.data.user_id,
    tenantId: tenant.data.tenant_id,
    email: me.data.email,
    role: me.data.role as Role,
    csrf: newCsrfToken(),
  });
  redirect(next);
}

export async function signOut(): Promise<void> {
  await clearSession();
  redirect("/sign-in");
}
