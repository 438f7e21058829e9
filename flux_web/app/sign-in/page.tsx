import { safeNext } from "@/lib/session-core";

import { SignInForm } from "./SignInForm";

export const metadata = { title: "Sign in" };

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string; reason?: string }>;
}) {
  const { next, reason } = await searchParams;
  return (
    <main id="main">
      <div className="card" style={{ maxWidth: "30rem", margin: "3rem auto" }}>
        <h1>Sign in to Flux</h1>
        {reason === "expired" && (
          <p className="notice" role="status">
            Your session has ended. Sign in again to go on where you were.
          </p>
        )}
        <SignInForm next={safeNext(next)} />
      </div>
    </main>
  );
}
