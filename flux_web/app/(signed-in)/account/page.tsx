import { PasswordForm } from "@/components/PasswordForm";
import { requireSession } from "@/lib/session";

export const metadata = { title: "Account" };

export default async function AccountPage() {
  const session = await requireSession();
  return (
    <>
      <h1>Account</h1>
      <section className="card" aria-labelledby="me-heading">
        <h2 id="me-heading">You</h2>
        <p>
          {session.email}, {session.role}
        </p>
      </section>
      <section className="card" aria-labelledby="password-heading">
        <h2 id="password-heading">Change your password</h2>
        <PasswordForm />
      </section>
    </>
  );
}
