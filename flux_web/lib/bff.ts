// The backend-for-frontend's guard for Route Handlers: a live session, and for a state-changing
// request the proof that it comes from our own page (same Origin, and the session's CSRF token
// echoed in a header, which another site can neither read nor send).
import "server-only";

import { sameToken, type Session } from "./session-core";
import { readSession } from "./session";

export const CSRF_HEADER = "x-flux-csrf";

export type Guarded = { session: Session } | { refusal: Response };

function refuse(status: number, sentence: string): { refusal: Response } {
  return { refusal: Response.json({ sentence }, { status }) };
}

export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export async function guard(request: Request, changesState: boolean): Promise<Guarded> {
  const session = await readSession();
  if (!session) return refuse(401, "Your session has ended. Please sign in again.");
  if (changesState) {
    const token = request.headers.get(CSRF_HEADER) ?? "";
    if (!sameOrigin(request) || !sameToken(token, session.csrf)) {
      return refuse(403, "This request did not come from Flux's own page, so it was refused.");
    }
  }
  return { session };
}
