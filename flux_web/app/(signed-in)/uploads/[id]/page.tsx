import Link from "next/link";
import { notFound } from "next/navigation";

import { LiveRefresh } from "@/components/LiveRefresh";
import { ApiError, getTenant, getUpload } from "@/lib/api";
import { formatDay, formatMoment } from "@/lib/format";
import { isSettled, statusWords, type UploadStatus } from "@/lib/uploads";

export const metadata = { title: "Upload" };

export default async function UploadPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(id)) notFound();
  const tenant = await getTenant();
  let upload;
  try {
    upload = await getUpload(id);
  } catch (error) {
    // Another restaurant's upload is simply not found (the API's row-level security).
    if (error instanceof ApiError && (error.status === 404 || error.status === 422)) notFound();
    throw error;
  }
  const where = { locale: tenant.locale, currency: tenant.currency };
  const status = upload.status as UploadStatus;
  const settled = isSettled(status);
  return (
    <>
      <p>
        <Link href="/uploads">← All uploads</Link>
      </p>
      <h1>{upload.filename}</h1>
      <section className="card" aria-labelledby="outcome-heading">
        <h2 id="outcome-heading">
          Status: <span className={`status-${status}`}>{statusWords(status, upload.attempts)}</span>
        </h2>
        <LiveRefresh active={!settled} />
        {upload.error && (
          <p className={status === "duplicate" ? "notice" : "alert"}>
            {status === "rejected" || status === "failed" ? "Why: " : ""}
            {upload.error}
          </p>
        )}
        <dl className="facts">
          <dt>Received</dt>
          <dd>{formatMoment(upload.received_at, where)}</dd>
          {upload.processed_at && (
            <>
              <dt>Processed</dt>
              <dd>{formatMoment(upload.processed_at, where)}</dd>
            </>
          )}
          <dt>Format</dt>
          <dd>{upload.format ?? "not known yet"}</dd>
          <dt>Days covered</dt>
          <dd>
            {upload.date_min && upload.date_max
              ? `${formatDay(upload.date_min, where)} – ${formatDay(upload.date_max, where)}`
              : "—"}
          </dd>
          <dt>Lines</dt>
          <dd>
            {upload.rows_total ?? "—"} in the file, {upload.rows_loaded ?? 0} loaded,{" "}
            {upload.rows_rejected ?? 0} refused
          </dd>
          {(upload.days_replaced ?? 0) > 0 && (
            <>
              <dt>Corrections</dt>
              <dd>{upload.days_replaced} day(s) from earlier uploads replaced</dd>
            </>
          )}
        </dl>
        {upload.warnings.length > 0 && (
          <>
            <h3>Worth a look</h3>
            <ul>
              {upload.warnings.map((warning) => (
                <li key={warning}>{warning}</li>
              ))}
            </ul>
          </>
        )}
      </section>
      {upload.rejected_rows.length > 0 && (
        <section className="card" aria-labelledby="refused-heading">
          <h2 id="refused-heading">Refused lines</h2>
          <p>
            {upload.rows_rejected === upload.rejected_rows.length
              ? "Every refused line, with the reason:"
              : `The first ${upload.rejected_rows.length} of ${upload.rows_rejected} refused lines:`}{" "}
            <a href={`/bff/uploads/${upload.upload_id}/rejections`} download>
              Download the full rejection report (CSV)
            </a>
          </p>
          <div className="table-wrap" role="region" aria-label="Refused lines, table" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col" className="number">
                    Line
                  </th>
                  <th scope="col">Column</th>
                  <th scope="col">Value</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {upload.rejected_rows.map((row, index) => (
                  <tr key={`${row.line_number}-${row.column}-${index}`}>
                    <td className="number">{row.line_number ?? "—"}</td>
                    <td>{row.column ?? "—"}</td>
                    <td>{row.value ?? "—"}</td>
                    <td>{row.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}
