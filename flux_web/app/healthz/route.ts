// The dashboard's server answers (used by `make web` to know it is up).
export function GET(): Response {
  return Response.json({ status: "ok" }, { headers: { "Cache-Control": "no-store" } });
}
