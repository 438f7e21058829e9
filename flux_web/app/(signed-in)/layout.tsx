import Link from "next/link";

import { signOut } from "@/app/sign-in/actions";
import { getTenant } from "@/lib/api";
import { navigationFor, pageFor } from "@/lib/roles";
import { currentPath, requireSession } from "@/lib/session";

export default async function SignedInLayout({ children }: { children: React.ReactNode }) {
  const session = await requireSession();
  const [tenant, path] = await Promise.all([getTenant(), currentPath()]);
  const here = pageFor(path.split("?")[0] ?? "/")?.href;
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="site-header">
        <Link href="/" className="brand">
          Flux · {tenant.name}
        </Link>
        <nav aria-label="Main">
          <ul>
            {navigationFor(session.role).map((page) => (
              <li key={page.href}>
                <Link href={page.href} aria-current={page.href === here ? "page" : undefined}>
                  {page.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {session.email} ({session.role})
          </span>
          <form action={signOut}>
            <button type="submit" className="link-button">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="main">{children}</main>
    </>
  );
}
