// POST /bff/uploads: the browser's file, streamed on to the API with the session's token. The
// body is never held whole here: the request's stream becomes the API request's body.
import { config } from "@/lib/config";
import { guard } from "@/lib/bff";
import { problemSentence, type Problem } from "@/lib/problems";

export async function POST(request: Request): Promise<Response> {
  const checked = await guard(request, true);
  if ("refusal" in checked) return checked.refusal;
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("multipart/form-data") || !request.body) {
    return Response.json({ sentence: "Choose a file to upload." }, { status: 400 });
  }
  const headers: Record<string, string> = {
    Authorization: `Bearer ${checked.session.token}`,
    "Content-Type": type,
  };
  const length = request.headers.get("content-length");
  if (length) headers["Content-Length"] = length;
  let answer: Response;
  try {
    answer = await fetch(`${config().apiUrl}/v1/uploads`, {
      method: "POST",
      headers,
      body: request.body,
      // @ts-expect-error: Node's fetch needs it to stream a request body; the DOM type lacks it
      duplex: "half",
      cache: "no-store",
    });
  } catch {
    return Response.json(
      { sentence: "Flux is not available right now. Please try again in a moment." },
      { status: 503 },
    );
  }
  const body = (await answer.json().catch(() => ({}))) as Problem & { upload_id?: string };
  if (!answer.ok) {
    return Response.json(
      { sentence: problemSentence(body, answer.status) },
      { status: answer.status === 401 ? 401 : answer.status },
    );
  }
  return Response.json({ upload_id: body.upload_id }, { status: 201 });
}
