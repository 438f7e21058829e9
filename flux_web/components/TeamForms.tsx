"use client";

import { useActionState } from "react";

import { inviteUser, updateUser, type TeamState } from "@/app/(signed-in)/team/actions";
import { Outcome } from "@/components/Outcome";

export function InviteForm() {
  const [state, action, pending] = useActionState<TeamState, FormData>(inviteUser, {});
  return (
    <form action={action} className="stack">
      <Outcome state={state} />
      <div className="field">
        <label htmlFor="invite-email">Email</label>
        <input id="invite-email" name="email" type="email" required autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor="invite-role">Role</label>
        <select id="invite-role" name="role" defaultValue="chef">
          <option value="chef">Chef: reads the forecasts</option>
          <option value="manager">Manager: also uploads sales and sees the models</option>
          <option value="owner">Owner: also manages the team</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="invite-password">First password</label>
        <input
          id="invite-password"
          name="password"
          type="password"
          minLength={12}
          required
          autoComplete="new-password"
          aria-describedby="invite-password-help"
        />
        <span id="invite-password-help" className="muted">
          At least 12 characters. Hand it over; they change it from their Account page.
        </span>
      </div>
      <button type="submit" className="button" disabled={pending}>
        Invite
      </button>
    </form>
  );
}

interface Member {
  user_id: string;
  email: string;
  role: string;
  disabled: boolean;
}

export function MemberControls({ member, isSelf }: { member: Member; isSelf: boolean }) {
  const [state, action, pending] = useActionState<TeamState, FormData>(updateUser, {});
  if (isSelf) return <span className="muted">You</span>;
  return (
    <div>
      <form action={action} className="inline-form">
        <input type="hidden" name="user_id" value={member.user_id} />
        <label htmlFor={`role-${member.user_id}`} className="visually-hidden">
          Role of {member.email}
        </label>
        <select id={`role-${member.user_id}`} name="role" defaultValue={member.role}>
          <option value="owner">owner</option>
          <option value="manager">manager</option>
          <option value="chef">chef</option>
        </select>
        <button type="submit" className="button button-quiet" disabled={pending}>
          Change role
        </button>
      </form>
      <form action={action} className="inline-form">
        <input type="hidden" name="user_id" value={member.user_id} />
        <input type="hidden" name="disabled" value={member.disabled ? "false" : "true"} />
        <button type="submit" className="button button-quiet" disabled={pending}>
          {member.disabled ? `Enable ${member.email}` : `Disable ${member.email}`}
        </button>
      </form>
      <Outcome state={state} />
    </div>
  );
}
