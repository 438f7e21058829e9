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

interface Props {
  metric: Metric;
  points: ChartPoint[];
  holidays: Map<string, string>;
  where: Locale;
}

export function ForecastTable({ metric, points, holidays, where }: Props) {
  const name = METRIC_NAMES[metric];
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
            <th scope="col">Note</th>
          </tr>
        </thead>
        <tbody>
          {points.map((point) => {
            const holiday = holidays.get(point.date);
            const closed = point.p90 === 0;
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
                <td>
                  {closed && <span className="tag tag-closed">Closed</span>}{" "}
                  {holiday && <span className="tag tag-holiday">Holiday: {holiday}</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
