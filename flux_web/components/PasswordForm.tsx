"use client";

import { useActionState } from "react";

import { changePassword, type PasswordState } from "@/app/(signed-in)/account/actions";
import { Outcome } from "@/components/Outcome";

export function PasswordForm() {
  const [state, action, pending] = useActionState<PasswordState, FormData>(changePassword, {});
  return (
    <form action={action} className="stack">
      <Outcome state={state} />
      <div className="field">
        <label htmlFor="current_password">Current password</label>
        <input
          id="current_password"
          name="current_password"
          type="password"
          required
          autoComplete="current-password"
        />
      </div>
      <div className="field">
        <label htmlFor="new_password">New password</label>
        <input
          id="new_password"
          name="new_password"
          type="password"
          minLength={12}
          required
          autoComplete="new-password"
        />
      </div>
      <div className="field">
        <label htmlFor="confirm_password">New password, again</label>
        <input
          id="confirm_password"
          name="confirm_password"
          type="password"
          minLength={12}
          required
          autoComplete="new-password"
        />
      </div>
      <button type="submit" className="button" disabled={pending}>
        Change password
      </button>
    </form>
  );
}
