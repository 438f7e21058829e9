// An upload's status in words, and whether the pipeline is still working on it.

export type UploadStatus =
  | "received"
  | "processing"
  | "loaded"
  | "rejected"
  | "duplicate"
  | "failed";

export const STATUS_WORDS: Record<UploadStatus, string> = {
  received: "Waiting to be processed",
  processing: "Being processed",
  loaded: "Loaded",
  rejected: "Refused",
  duplicate: "Already loaded (the same file)",
  failed: "Failed",
};

export function isSettled(status: UploadStatus): boolean {
  return status !== "received" && status !== "processing";
}

export function statusWords(status: UploadStatus, attempts = 0): string {
  if (!isSettled(status) && attempts > 0) {
    return `${STATUS_WORDS[status]} (tried ${attempts} time${attempts === 1 ? "" : "s"}, trying again)`;
  }
  return STATUS_WORDS[status];
}
