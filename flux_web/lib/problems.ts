// What the API says went wrong, as a sentence for a person: never raw JSON or a stack trace.

export interface Problem {
  status?: number;
  title?: string;
  detail?: string;
  errors?: { loc?: (string | number)[]; msg?: string }[];
}

const FIELDS: Record<string, string> = {
  email: "The e-mail address",
  password: "The password",
  new_password: "The new password",
  current_password: "The current password",
  role: "The role",
  file: "The file",
  date: "The date",
  kind: "The kind of day",
  note: "The note",
  value: "The number",
  reason: "The reason",
};

function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (!trimmed) return "";
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function fieldError(error: { loc?: (string | number)[]; msg?: string }): string {
  const field = String(error.loc?.at(-1) ?? "");
  const subject = FIELDS[field] ?? (field ? `The field “${field.replace(/_/g, " ")}”` : "A value");
  const message = (error.msg ?? "is not valid")
    .replace(/^Value error, /, "")
    .replace(/^String should /, "should ")
    .replace(/^Input should /, "should ")
    .replace(/^Field required$/, "is required");
  return sentence(`${subject} ${message.charAt(0).toLowerCase()}${message.slice(1)}`);
}

const BY_STATUS: Record<number, string> = {
  400: "The request could not be understood.",
  401: "Your session has ended. Please sign in again.",
  403: "You are not allowed to do this.",
  404: "This was not found. It may have been removed, or it belongs to another restaurant.",
  409: "This conflicts with something that already exists.",
  413: "The file is too large.",
  415: "This kind of file cannot be used.",
  422: "Some of what was sent is not valid.",
  429: "Too many attempts. Please wait a moment and try again.",
  500: "Something went wrong on our side. Please try again in a moment.",
  503: "Flux is not available right now. Please try again in a moment.",
};

export function problemSentence(problem: Problem | undefined, status: number): string {
  const errors = problem?.errors?.filter((e) => e.msg) ?? [];
  if (errors.length > 0) return errors.map(fieldError).join(" ");
  if (problem?.detail && status < 500) return sentence(problem.detail);
  return BY_STATUS[status] ?? BY_STATUS[status >= 500 ? 500 : 400] ?? "Something went wrong.";
}
