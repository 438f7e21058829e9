// Numbers, money and dates in the restaurant's locale, and accuracy in words a manager reads.
// Pure functions: the same on the server and in unit tests.

export type Metric = "sales" | "covers" | "orders" | "items";

export interface Locale {
  locale: string; // BCP 47, e.g. "en-US", "ja-JP"
  currency: string; // ISO 4217, e.g. "USD"
}

export const METRIC_NAMES: Record<Metric, string> = {
  sales: "Sales",
  covers: "Covers",
  orders: "Orders",
  items: "Items sold",
};

const MODEL_NAMES: Record<string, string> = {
  ensemble: "a blend of models",
  xgboost: "gradient boosting (XGBoost)",
  global_xgboost: "a model learned across restaurants",
  prophet: "Prophet",
  weekday_median: "the weekday median",
  seasonal_naive: "“same day last week”",
};

export function modelName(kind: string): string {
  return MODEL_NAMES[kind] ?? kind.replace(/_/g, " ");
}

/** A calendar day ("2026-12-02") as the instant of its midnight in UTC: days have no zone here. */
export function day(iso: string): Date {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1));
}

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(iso: string, days: number): string {
  const date = day(iso);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

export function formatMetric(metric: Metric, value: number, where: Locale): string {
  if (metric === "sales") {
    return new Intl.NumberFormat(where.locale, {
      style: "currency",
      currency: where.currency,
      maximumFractionDigits: 0,
      minimumFractionDigits: 0,
    }).format(value);
  }
  return new Intl.NumberFormat(where.locale, { maximumFractionDigits: 0 }).format(value);
}

export function formatRange(metric: Metric, low: number, high: number, where: Locale): string {
  return `${formatMetric(metric, low, where)} – ${formatMetric(metric, high, where)}`;
}

export function formatDay(iso: string, where: Locale): string {
  return new Intl.DateTimeFormat(where.locale, {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  }).format(day(iso));
}

export function formatShortDay(iso: string, where: Locale): string {
  return new Intl.DateTimeFormat(where.locale, {
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(day(iso));
}

export function formatWeekday(
  iso: string,
  where: Locale,
  width: "long" | "short" = "long",
): string {
  return new Intl.DateTimeFormat(where.locale, { weekday: width, timeZone: "UTC" }).format(
    day(iso),
  );
}

export function formatMoment(instant: string, where: Locale, timeZone = "UTC"): string {
  return new Intl.DateTimeFormat(where.locale, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZone,
    timeZoneName: "short",
  }).format(new Date(instant));
}

export function formatPercent(share: number, where: Locale): string {
  return new Intl.NumberFormat(where.locale, { style: "percent", maximumFractionDigits: 0 }).format(
    share,
  );
}

export interface Accuracy {
  wape?: number | null;
  baseline_wape?: number | null;
  typical_error?: number | null;
  baseline_typical_error?: number | null;
}

/**
 * How far to trust the forecast, as a manager says it: "on 8 days in 10 within ±9%", beside the
 * rule of thumb it beats. Older models carry only the average error (WAPE).
 */
export function accuracyInWords(model: Accuracy, where: Locale): string {
  const typical = model.typical_error;
  const rule = "“same day last week”";
  if (typical != null && Number.isFinite(typical)) {
    const mine = `On 8 days in 10 the forecast was within ±${formatPercent(typical, where)} of what happened`;
    const base = model.baseline_typical_error;
    if (base != null && Number.isFinite(base)) {
      return `${mine}; ${rule} was within ±${formatPercent(base, where)}.`;
    }
    return `${mine}.`;
  }
  if (model.wape != null && Number.isFinite(model.wape)) {
    const mine = `On average the forecast was off by ${formatPercent(model.wape, where)}`;
    const base = model.baseline_wape;
    if (base != null && Number.isFinite(base)) {
      return `${mine}; ${rule} was off by ${formatPercent(base, where)}.`;
    }
    return `${mine}.`;
  }
  return "Its accuracy is not known yet.";
}

/** "41% smaller error than “same day last week”", or how much worse, from the WAPEs. */
export function comparedWithBaseline(model: Accuracy, where: Locale): string | null {
  const { wape, baseline_wape: base } = model;
  if (wape == null || base == null || !(base > 0)) return null;
  const change = 1 - wape / base;
  if (Math.abs(change) < 0.005) return "as accurate as “same day last week”";
  return change > 0
    ? `${formatPercent(change, where)} smaller error than “same day last week”`
    : `${formatPercent(-change, where)} larger error than “same day last week”`;
}

export interface AdjustmentScore {
  metric: Metric;
  days: number;
  model_wape?: number | null;
  adjusted_wape?: number | null;
  days_closer: number;
}

/** Whether the numbers people set helped, on the days whose actuals are in. */
export function adjustmentsInWords(score: AdjustmentScore, where: Locale): string {
  const name = METRIC_NAMES[score.metric].toLowerCase();
  if (score.days === 0 || score.model_wape == null || score.adjusted_wape == null) {
    return `No ${name} day with a number of your own has its actual yet.`;
  }
  const days = score.days === 1 ? "1 day" : `${score.days} days`;
  const verdict =
    score.adjusted_wape < score.model_wape
      ? "your numbers helped"
      : score.adjusted_wape > score.model_wape
        ? "the model's numbers were better"
        : "yours and the model's did as well";
  return (
    `${METRIC_NAMES[score.metric]}, on ${days} whose actuals are in: ${verdict}. Yours were off ` +
    `by ${formatPercent(score.adjusted_wape, where)} on average, the model's by ` +
    `${formatPercent(score.model_wape, where)}; yours were closer on ${score.days_closer} of ` +
    `${score.days}.`
  );
}
