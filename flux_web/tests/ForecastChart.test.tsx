import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ForecastChart, type ChartPoint } from "@/components/ForecastChart";
import { ForecastTable, type TablePoint } from "@/components/ForecastTable";

const US = { locale: "en-US", currency: "USD" };
const points: ChartPoint[] = [
  { date: "2026-12-24", p10: 900, p50: 1000, p90: 1200 },
  { date: "2026-12-25", p10: 0, p50: 0, p90: 0 },
  { date: "2026-12-26", p10: 1400, p50: 1500, p90: 1700 },
];

describe("the forecast chart", () => {
  it("is an image named for what it shows", () => {
    render(
      <ForecastChart metric="sales" points={points} actuals={[]} holidays={new Set()} where={US} />,
    );
    const chart = screen.getByRole("img");
    expect(chart.getAttribute("aria-label")).toMatch(
      /^Forecast of sales for 3 days, Dec 24 to Dec 26: from \$0 to \$1,500 a day/,
    );
  });

  it("draws the band, the line, the actuals and the marked days", () => {
    const { container } = render(
      <ForecastChart
        metric="covers"
        points={points}
        actuals={[{ date: "2026-12-23", value: 800 }]}
        holidays={new Set(["2026-12-25"])}
        where={US}
      />,
    );
    expect(container.querySelectorAll("path.chart-band")).toHaveLength(1);
    expect(container.querySelectorAll("path.chart-p50")).toHaveLength(1);
    expect(container.querySelectorAll("path.chart-actual")).toHaveLength(1);
    expect(container.querySelectorAll("rect.chart-holiday")).toHaveLength(1);
    expect(container.querySelectorAll("rect.chart-closed")).toHaveLength(1);
    expect(container.querySelectorAll("circle.chart-adjusted")).toHaveLength(0);
  });

  it("draws a dot for each number people set", () => {
    const { container } = render(
      <ForecastChart
        metric="covers"
        points={[points[0]!, { ...points[2]!, adjusted_p50: 2100 }]}
        actuals={[]}
        holidays={new Set()}
        where={US}
      />,
    );
    expect(container.querySelectorAll("circle.chart-adjusted")).toHaveLength(1);
  });
});

describe("the table of days", () => {
  it("holds every day's numbers, closed days and holidays said in words", () => {
    render(
      <ForecastTable
        metric="sales"
        points={points}
        holidays={new Map([["2026-12-25", "Christmas Day"]])}
        told={new Map()}
        where={US}
      />,
    );
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(3);
    expect(screen.queryByRole("columnheader", { name: "Your number" })).toBeNull();
    const [first, christmas] = rows.map((row) =>
      within(row)
        .getAllByRole("cell")
        .map((c) => c.textContent),
    );
    expect(first).toEqual(["Thu", "$1,000", "$900 – $1,200", ""]);
    expect(christmas).toEqual(["Fri", "—", "—", "Closed Holiday: Christmas Day"]);
  });

  it("shows a number people set beside the model's, with why, and the events told", () => {
    const told: TablePoint[] = [
      { ...points[0]!, adjusted_p50: 1300, adjustment_reason: "a party of forty" },
      { ...points[1]!, closed: true, adjusted_p50: 50, adjustment_reason: "before it closed" },
      points[2]!,
    ];
    const { container } = render(
      <ForecastTable
        metric="sales"
        points={told}
        holidays={new Map()}
        told={new Map([["2026-12-26", "Event: street fair"]])}
        where={US}
      />,
    );
    const table = within(container);
    expect(table.getByRole("columnheader", { name: "Your number" })).toBeDefined();
    const [party, closed, fair] = table
      .getAllByRole("row")
      .slice(1)
      .map((row) =>
        within(row)
          .getAllByRole("cell")
          .map((c) => c.textContent),
      );
    expect(party).toEqual(["Thu", "$1,000", "$900 – $1,200", "$1,300", "Yours: a party of forty"]);
    expect(closed).toEqual(["Fri", "—", "—", "", "Closed"]);
    expect(fair).toEqual(["Sat", "$1,500", "$1,400 – $1,700", "", "Event: street fair"]);
  });
});
