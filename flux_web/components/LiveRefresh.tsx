"use client";

// While the pipeline works on an upload, the page asks the server for itself again every few
// seconds (a Server Components refresh: the new status arrives rendered, no client fetching).
import { useRouter } from "next/navigation";
import { useEffect } from "react";

export function LiveRefresh({ active, everyMs = 3000 }: { active: boolean; everyMs?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => router.refresh(), everyMs);
    return () => clearInterval(timer);
  }, [active, everyMs, router]);
  return (
    <p role="status" className="muted" aria-live="polite">
      {active ? "The pipeline is working on it; this page updates by itself." : ""}
    </p>
  );
}
