// Before any page: who is signed in. A role that may not open the page gets the "not allowed"
// page in its place, never its data (the API refuses that role the data anyway); the backend-for-frontend's routes answer 401 without a
// session. Pages send a visitor without a live session to sign in themselves (requireSession):
// a redirect from here would name 127.0.0.1 as localhost, whose cookies are another host's. The
// path is passed on so that a page can send the user back here after signing in again.
import { NextResponse, type NextRequest } from "next/server";

import { readConfig } from "./lib/config";
import { mayOpen } from "./lib/roles";
import { isLive, SESSION_COOKIE, unseal } from "./lib/session-core";

const PUBLIC = ["/sign-in", "/healthz", "/not-allowed"];

export async function middleware(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl;
  const forward = new Headers(request.headers);
  forward.set("x-flux-path", `${pathname}${search}`);
  if (PUBLIC.some((path) => pathname === path || pathname.startsWith(`${path}/`))) {
    return NextResponse.next({ request: { headers: forward } });
  }
  const session = await unseal(
    request.cookies.get(SESSION_COOKIE)?.value,
    readConfig().sessionSecret,
  );
  if (!isLive(session)) {
    if (pathname.startsWith("/bff/")) {
      return NextResponse.json(
        { sentence: "Your session has ended. Please sign in again." },
        { status: 401 },
      );
    }
    return NextResponse.next({ request: { headers: forward } });
  }
  if (!mayOpen(session.role, pathname)) {
    return NextResponse.rewrite(new URL("/not-allowed", request.url), {
      request: { headers: forward },
    });
  }
  return NextResponse.next({ request: { headers: forward } });
}

export const config = {
  // Not for Next's own files and the icon.
  matcher: ["/((?!_next/|favicon.ico).*)"],
};
