"use client";

// Drag a CSV (or gzip) here, or choose one: sent to the dashboard's server with its progress
// shown, then off to the upload's own page, which follows it through the pipeline.
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";

interface Props {
  csrf: string;
}

type State =
  | { kind: "idle" }
  | { kind: "sending"; name: string; sent: number; total: number }
  | { kind: "failed"; sentence: string };

export function UploadDropzone({ csrf }: Props) {
  const router = useRouter();
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [state, setState] = useState<State>({ kind: "idle" });

  function send(file: File) {
    const form = new FormData();
    form.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", "/bff/uploads");
    request.setRequestHeader("x-flux-csrf", csrf);
    request.responseType = "json";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) {
        setState({ kind: "sending", name: file.name, sent: event.loaded, total: event.total });
      }
    };
    request.onload = () => {
      const body = (request.response ?? {}) as { upload_id?: string; sentence?: string };
      if (request.status === 201 && body.upload_id) {
        router.push(`/uploads/${body.upload_id}`);
        return;
      }
      if (request.status === 401) {
        router.push(`/sign-in?reason=expired&next=${encodeURIComponent("/uploads")}`);
        return;
      }
      setState({ kind: "failed", sentence: body.sentence ?? "The upload did not go through." });
    };
    request.onerror = () =>
      setState({ kind: "failed", sentence: "The connection was lost. Please try again." });
    setState({ kind: "sending", name: file.name, sent: 0, total: file.size });
    request.send(form);
  }

  function chosen(files: FileList | null) {
    const file = files?.[0];
    if (file) send(file);
  }

  const sending = state.kind === "sending";
  return (
    <div
      className="dropzone"
      data-over={over}
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(event) => {
        event.preventDefault();
        setOver(false);
        chosen(event.dataTransfer.files);
      }}
    >
      <p>Drag your sales export here (CSV, or CSV compressed with gzip), or</p>
      <label htmlFor="upload-file" className="button">
        Choose a file
      </label>
      <input
        ref={input}
        id="upload-file"
        name="file"
        type="file"
        accept=".csv,.txt,.tsv,.gz,text/csv,text/plain,application/gzip"
        className="visually-hidden"
        disabled={sending}
        onChange={(event) => chosen(event.target.files)}
      />
      {state.kind === "sending" && (
        <div role="status" style={{ width: "100%", maxWidth: "26rem" }}>
          <p>Sending {state.name}…</p>
          <progress aria-label="Upload progress" max={state.total || 1} value={state.sent} />
        </div>
      )}
      {state.kind === "failed" && (
        <p role="alert" className="alert">
          {state.sentence}
        </p>
      )}
    </div>
  );
}
