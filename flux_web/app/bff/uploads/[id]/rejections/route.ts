// GET /bff/uploads/{id}/rejections: the whole rejection report as CSV, from the API, streamed.
import { guard } from "@/lib/bff";
import { config } from "@/lib/config";

export async function GET(
  request: Request,
  { params }: { params: Promise<{ id: string }> },
): Promise<Response> {
  const checked = await guard(request, false);
  if ("refusal" in checked) return checked.refusal;
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) return new Response("Not found", { status: 404 });
  const answer = await fetch(`${config().apiUrl}/v1/uploads/${id}/rejections.csv`, {
    headers: { Authorization: `Bearer ${checked.session.token}` },
    cache: "no-store",
  });
  if (!answer.ok || !answer.body) {
    return new Response(answer.status === 404 ? "Not found" : "The report is not available.", {
      status: answer.status,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  return new Response(answer.body, {
    status: 200,
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="rejections-${id}.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
}
