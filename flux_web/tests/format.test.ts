import { describe, expect, it } from "vitest";

import {
  accuracyInWords,
  addDays,
  adjustmentsInWords,
  comparedWithBaseline,
  formatDay,
  formatMetric,
  formatMoment,
  formatWeekday,
  modelName,
} from "@/lib/format";

const US = { locale: "en-US", currency: "USD" };
const JP = { locale: "ja-JP", currency: "JPY" };
const DE = { locale: "de-DE", currency: "EUR" };

describe("numbers and money in the restaurant's locale", () => {
  it("writes sales as whole units of its currency", () => {
    expect(formatMetric("sales", 1452.4, US)).toBe("$1,452");
    expect(formatMetric("sales", 1452.6, DE)).toBe("1.453\u00a0€");
    expect(formatMetric("sales", 2833, JP)).toBe("￥2,833");
  });

  it("writes covers as plain counts", () => {
    expect(formatMetric("covers", 1234.4, DE)).toBe("1.234");
    expect(formatMetric("covers", 112, US)).toBe("112");
  });
});

describe("days", () => {
  it("are calendar days, whatever the server's time zone", () => {
    expect(formatDay("2026-12-25", US)).toBe("Dec 25, 2026");
    expect(formatWeekday("2026-12-25", US)).toBe("Friday");
    expect(formatWeekday("2026-12-25", JP)).toBe("金曜日");
    expect(formatDay("2026-12-25", DE)).toBe("25. Dez. 2026");
  });

  it("add across months and years", () => {
    expect(addDays("2026-12-30", 3)).toBe("2027-01-02");
    expect(addDays("2024-03-01", -1)).toBe("2024-02-29");
  });
});

describe("accuracy in words", () => {
  it("says how often the forecast was close, beside the rule of thumb", () => {
    expect(accuracyInWords({ typical_error: 0.09, baseline_typical_error: 0.151 }, US)).toBe(
      "On 8 days in 10 the forecast was within ±9% of what happened; “same day last week” was within ±15%.",
    );
  });

  it("falls back to the average error for older models", () => {
    expect(accuracyInWords({ wape: 0.098, baseline_wape: 0.146, typical_error: null }, US)).toBe(
      "On average the forecast was off by 10%; “same day last week” was off by 15%.",
    );
    expect(accuracyInWords({}, US)).toBe("Its accuracy is not known yet.");
  });

  it("compares the champion with the baseline, better or worse", () => {
    expect(comparedWithBaseline({ wape: 0.1, baseline_wape: 0.2 }, US)).toBe(
      "50% smaller error than “same day last week”",
    );
    expect(comparedWithBaseline({ wape: 0.3, baseline_wape: 0.2 }, US)).toBe(
      "50% larger error than “same day last week”",
    );
    expect(comparedWithBaseline({ wape: 0.1, baseline_wape: null }, US)).toBeNull();
  });

  it("names the models as a manager would", () => {
    expect(modelName("ensemble")).toBe("a blend of models");
    expect(modelName("some_new_kind")).toBe("some new kind");
  });
});

describe("moments", () => {
  it("say their time zone", () => {
    expect(formatMoment("2026-12-02T07:46:00Z", US)).toBe("Dec 2, 2026, 7:46 AM UTC");
  });
});

describe("whether the numbers people set helped", () => {
  it("says which was closer, and by how much", () => {
    const score = { metric: "covers" as const, days: 4, days_closer: 3 };
    expect(adjustmentsInWords({ ...score, model_wape: 0.2, adjusted_wape: 0.1 }, US)).toBe(
      "Covers, on 4 days whose actuals are in: your numbers helped. Yours were off by 10% on " +
        "average, the model's by 20%; yours were closer on 3 of 4.",
    );
    expect(adjustmentsInWords({ ...score, model_wape: 0.1, adjusted_wape: 0.25 }, US)).toContain(
      "the model's numbers were better",
    );
  });

  it("says so when no adjusted day has its actual yet", () => {
    const none = { metric: "sales" as const, days: 0, days_closer: 0, model_wape: null };
    expect(adjustmentsInWords(none, US)).toBe(
      "No sales day with a number of your own has its actual yet.",
    );
  });
});
