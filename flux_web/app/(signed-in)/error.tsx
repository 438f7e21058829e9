"use client";

// What a person sees when a page cannot be shown: a sentence and a way on, never a stack trace
// (in production Next.js sends the browser no server message, only a digest for the logs).
export default function PageError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <div className="card" role="alert">
      <h1>Something went wrong</h1>
      <p>This page could not be shown. Please try again in a moment.</p>
      {error.digest && <p className="muted">Reference for support: {error.digest}</p>}
      <button type="button" className="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
