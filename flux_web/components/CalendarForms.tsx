"use client";

import { useActionState } from "react";

import {
  forgetDay,
  removeNumber,
  setNumber,
  tellDay,
  type CalendarState,
} from "@/app/(signed-in)/calendar/actions";
import { Outcome } from "@/components/Outcome";

export function TellDayForm({ today }: { today: string }) {
  const [state, action, pending] = useActionState<CalendarState, FormData>(tellDay, {});
  return (
    <form action={action} className="stack">
      <Outcome state={state} />
      <div className="field">
        <label htmlFor="day-date">Day</label>
        <input id="day-date" name="date" type="date" required defaultValue={today} />
      </div>
      <div className="field">
        <label htmlFor="day-kind">What happens</label>
        <select id="day-kind" name="kind" defaultValue="closed">
          <option value="closed">Closed: forecast as zero, left out of the scores</option>
          <option value="event">An event: a private party, a fair nearby</option>
          <option value="promotion">A promotion</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="day-note">Note</label>
        <input id="day-note" name="note" type="text" maxLength={500} autoComplete="off" />
      </div>
      <button type="submit" className="button" disabled={pending}>
        Add the day
      </button>
    </form>
  );
}

export function ForgetDayButton({ dayId, label }: { dayId: string; label: string }) {
  const [state, action, pending] = useActionState<CalendarState, FormData>(forgetDay, {});
  return (
    <form action={action} className="inline-form">
      <input type="hidden" name="day_id" value={dayId} />
      <button type="submit" className="button button-quiet" disabled={pending}>
        Remove {label}
      </button>
      <Outcome state={state} />
    </form>
  );
}

export function NumberForm({ today }: { today: string }) {
  const [state, action, pending] = useActionState<CalendarState, FormData>(setNumber, {});
  return (
    <form action={action} className="stack">
      <Outcome state={state} />
      <div className="field">
        <label htmlFor="number-day">Day</label>
        <input id="number-day" name="day" type="date" required min={today} defaultValue={today} />
      </div>
      <div className="field">
        <label htmlFor="number-metric">Of</label>
        <select id="number-metric" name="metric" defaultValue="covers">
          <option value="covers">Covers</option>
          <option value="sales">Sales</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="number-value">Your number</label>
        <input id="number-value" name="value" type="number" min={0} step="any" required />
      </div>
      <div className="field">
        <label htmlFor="number-reason">Why</label>
        <input
          id="number-reason"
          name="reason"
          type="text"
          required
          maxLength={500}
          autoComplete="off"
        />
      </div>
      <button type="submit" className="button" disabled={pending}>
        Set the number
      </button>
    </form>
  );
}

export function RemoveNumberButton({
  day,
  metric,
  label,
}: {
  day: string;
  metric: string;
  label: string;
}) {
  const [state, action, pending] = useActionState<CalendarState, FormData>(removeNumber, {});
  return (
    <form action={action} className="inline-form">
      <input type="hidden" name="day" value={day} />
      <input type="hidden" name="metric" value={metric} />
      <button type="submit" className="button button-quiet" disabled={pending}>
        Remove {label}
      </button>
      <Outcome state={state} />
    </form>
  );
}
