// The session as Server Components, Server Actions and Route Handlers see it.
import "server-only";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";

import { config } from "./config";
import { isLive, seal, SESSION_COOKIE, unseal, type Session } from "./session-core";

// Unsealed once per request, however many components ask.
export const readSession = cache(async (): Promise<Session | null> => {
  const jar = await cookies();
  const session = await unseal(jar.get(SESSION_COOKIE)?.value, config().sessionSecret);
  return isLive(session) ? session : null;
});

/** The path the middleware saw, to come back to after signing in again. */
export async function currentPath(): Promise<string> {
  return (await headers()).get("x-flux-path") ?? "/";
}

export function signInUrl(next: string, reason?: "expired"): string {
  const query = new URLSearchParams({ next });
  if (reason) query.set("reason", reason);
  return `/sign-in?${query.toString()}`;
}

/** The session, or off to sign in (and back here afterwards). */
export async function requireSession(): Promise<Session> {
  const session = await readSession();
  if (!session) {
    const hadOne = (await cookies()).has(SESSION_COOKIE);
    redirect(signInUrl(await currentPath(), hadOne ? "expired" : undefined));
  }
  return session;
}

// Cookies can be written only in Server Actions and Route Handlers.
export async function writeSession(session: Session): Promise<void> {
  const jar = await cookies();
  jar.set(SESSION_COOKIE, await seal(session, config().sessionSecret), {
    httpOnly: true,
    secure: config().secureCookies,
    sameSite: "lax",
    path: "/",
    expires: new Date(session.expiresAt),
  });
}

export async function clearSession(): Promise<void> {
  const jar = await cookies();
  jar.set(SESSION_COOKIE, "", {
    httpOnly: true,
    secure: config().secureCookies,
    sameSite: "lax",
    path: "/",
    maxAge: 0,
  });
}
