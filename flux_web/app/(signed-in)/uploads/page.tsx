import Link from "next/link";

import { LiveRefresh } from "@/components/LiveRefresh";
import { UploadDropzone } from "@/components/UploadDropzone";
import { getTenant, listUploads } from "@/lib/api";
import { formatDay, formatMoment } from "@/lib/format";
import { requireSession } from "@/lib/session";
import { isSettled, statusWords, type UploadStatus } from "@/lib/uploads";

export const metadata = { title: "Uploads" };

export default async function UploadsPage() {
  const session = await requireSession();
  const [tenant, uploads] = await Promise.all([getTenant(), listUploads()]);
  const where = { locale: tenant.locale, currency: tenant.currency };
  const working = uploads.some((u) => !isSettled(u.status as UploadStatus));
  return (
    <>
      <h1>Uploads</h1>
      <section className="card" aria-labelledby="send-heading">
        <h2 id="send-heading">Send your sales</h2>
        <UploadDropzone csrf={session.csrf} />
      </section>
      <section className="card" aria-labelledby="list-heading">
        <h2 id="list-heading">What you sent</h2>
        <LiveRefresh active={working} />
        {uploads.length === 0 ? (
          <p>Nothing yet. Your uploads and what became of them appear here.</p>
        ) : (
          <div className="table-wrap" role="region" aria-label="Uploads, table" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Received</th>
                  <th scope="col">Status</th>
                  <th scope="col">Format</th>
                  <th scope="col">Days covered</th>
                  <th scope="col" className="number">
                    Lines loaded
                  </th>
                  <th scope="col" className="number">
                    Lines refused
                  </th>
                </tr>
              </thead>
              <tbody>
                {uploads.map((upload) => (
                  <tr key={upload.upload_id}>
                    <th scope="row">
                      <Link href={`/uploads/${upload.upload_id}`}>{upload.filename}</Link>
                    </th>
                    <td>{formatMoment(upload.received_at, where)}</td>
                    <td className={`status-${upload.status}`}>
                      {statusWords(upload.status as UploadStatus, upload.attempts)}
                    </td>
                    <td>{upload.format ?? "—"}</td>
                    <td>
                      {upload.date_min && upload.date_max
                        ? `${formatDay(upload.date_min, where)} – ${formatDay(upload.date_max, where)}`
                        : "—"}
                    </td>
                    <td className="number">{upload.rows_loaded ?? "—"}</td>
                    <td className="number">{upload.rows_rejected ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
