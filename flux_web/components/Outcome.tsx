// What a form's server action answered: an alert for an error, a status for success.
export interface ActionOutcome {
  error?: string;
  done?: string;
}

export function Outcome({ state }: { state: ActionOutcome }) {
  if (state.error) {
    return (
      <p role="alert" className="alert">
        {state.error}
      </p>
    );
  }
  if (state.done) {
    return (
      <p role="status" className="notice">
        {state.done}
      </p>
    );
  }
  return null;
}
