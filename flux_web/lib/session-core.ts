// The signed-in session: the API's access token and who it is for, sealed (encrypted and signed
// with the session secret, by iron-session) into an httpOnly cookie. No script in the browser can
// read it, and the browser never sees the token. Shared by the middleware and the server code.
import { sealData, unsealData } from "iron-session";

import type { Role } from "./roles";

export const SESSION_COOKIE = "flux_session";

export interface Session {
  token: string;
  expiresAt: number; // epoch milliseconds: when the API's token expires
  userId: string;
  tenantId: string;
  email: string;
  role: Role;
  csrf: string; // the synchronizer token that state-changing requests must echo
}

export function isLive(session: Session | null, now: number = Date.now()): session is Session {
  return session !== null && session.expiresAt > now;
}

export async function seal(session: Session, secret: string): Promise<string> {
  const ttl = Math.max(60, Math.ceil((session.expiresAt - Date.now()) / 1000));
  return sealData(session, { password: secret, ttl });
}

export async function unseal(value: string | undefined, secret: string): Promise<Session | null> {
  if (!value) return null;
  try {
    const data = await unsealData<Partial<Session>>(value, { password: secret });
    if (
      typeof data.token !== "string" ||
      typeof data.expiresAt !== "number" ||
      typeof data.role !== "string" ||
      typeof data.csrf !== "string"
    ) {
      return null; // expired seal (iron-session gives {}), or not ours
    }
    return data as Session;
  } catch {
    return null;
  }
}

export function newCsrfToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Buffer.from(bytes).toString("base64url");
}

export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

// Only a path of this site: "/uploads?x=1", never "//evil.example" or "https://...".
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
