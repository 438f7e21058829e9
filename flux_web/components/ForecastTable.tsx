import { Fragment } from "react";

import {
  formatMetric,
  formatRange,
  formatShortDay,
  formatWeekday,
  METRIC_NAMES,
  type Locale,
  type Metric,
} from "@/lib/format";

import type { ChartPoint } from "./ForecastChart";

export interface TablePoint extends ChartPoint {
  closed?: boolean;
  adjustment_reason?: string | null;
}

interface Props {
  metric: Metric;
  points: TablePoint[];
  holidays: Map<string, string>;
  told: Map<string, string>; // events and promotions the restaurant told, with their notes
  where: Locale;
}

export function ForecastTable({ metric, points, holidays, told, where }: Props) {
  const name = METRIC_NAMES[metric];
  const anyAdjusted = points.some((p) => p.adjusted_p50 != null);
  return (
    <div
      className="table-wrap"
      role="region"
      aria-label={`${name}, day by day, table`}
      tabIndex={0}
    >
      <table>
        <caption>
          {name}, day by day ({points.length > 0 ? points[0]!.date.slice(0, 4) : ""})
        </caption>
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">Weekday</th>
            <th scope="col" className="number">
              <span className="wide-only">Forecast </span>(P50)
            </th>
            <th scope="col" className="number">
              <span className="wide-only">Likely range </span>(P10–P90)
            </th>
            {anyAdjusted && (
              <th scope="col" className="number">
                Your number
              </th>
            )}
            <th scope="col">Note</th>
          </tr>
        </thead>
        <tbody>
          {points.map((point) => {
            const holiday = holidays.get(point.date);
            const event = told.get(point.date);
            const closed = point.closed === true || point.p90 === 0;
            return (
              <tr key={point.date}>
                <th scope="row">{formatShortDay(point.date, where)}</th>
                <td>
                  <abbr title={formatWeekday(point.date, where)}>
                    {formatWeekday(point.date, where, "short")}
                  </abbr>
                </td>
                <td className="number">{closed ? "—" : formatMetric(metric, point.p50, where)}</td>
                <td className="number">
                  {closed ? "—" : formatRange(metric, point.p10, point.p90, where)}
                </td>
                {anyAdjusted && (
                  <td className="number">
                    {point.adjusted_p50 == null || closed ? (
                      ""
                    ) : (
                      <span title={point.adjustment_reason ?? undefined}>
                        {formatMetric(metric, point.adjusted_p50, where)}
                      </span>
                    )}
                  </td>
                )}
                <td>
                  {[
                    closed && <span className="tag tag-closed">Closed</span>,
                    holiday && <span className="tag tag-holiday">Holiday: {holiday}</span>,
                    event && <span className="tag">{event}</span>,
                    point.adjusted_p50 != null && !closed && point.adjustment_reason && (
                      <span className="muted">Yours: {point.adjustment_reason}</span>
                    ),
                  ]
                    .filter(Boolean)
                    .map((tag, i) => (
                      <Fragment key={i}>
                        {i > 0 && " "}
                        {tag}
                      </Fragment>
                    ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
