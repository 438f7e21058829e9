// The forecast as a picture: P50 as a line, P10–P90 as a band, the last weeks' actuals beside
// it, public holidays and closed days marked, the numbers people set as dots. Plain SVG rendered on the server with visx's
// scales, shapes and axes: it is in the first paint and ships no JavaScript. The numbers are also
// in the table beneath it; the accessible name says what the picture shows.
import { AxisBottom, AxisLeft } from "@visx/axis";
import { Group } from "@visx/group";
import { scaleLinear, scaleUtc } from "@visx/scale";
import { Area, LinePath } from "@visx/shape";

import {
  day,
  formatMetric,
  formatShortDay,
  METRIC_NAMES,
  type Locale,
  type Metric,
} from "@/lib/format";

export interface ChartPoint {
  date: string;
  p10: number;
  p50: number;
  p90: number;
  adjusted_p50?: number | null; // an owner's or a manager's own number for the day
}

export interface ChartActual {
  date: string;
  value: number;
}

interface Props {
  width?: number; // of the drawing: 720 for a wide screen, 360 for a phone
  metric: Metric;
  points: ChartPoint[];
  actuals: ChartActual[];
  holidays: Set<string>;
  where: Locale;
}

const HEIGHT = 260;
const MARGINS = { top: 12, right: 12, bottom: 30, left: 72 };
const DAY_MS = 86_400_000;

export function chartLabel(metric: Metric, points: ChartPoint[], where: Locale): string {
  const name = METRIC_NAMES[metric].toLowerCase();
  if (points.length === 0) return `Forecast of ${name}: none yet`;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const low = Math.min(...points.map((p) => p.p50));
  const high = Math.max(...points.map((p) => p.p50));
  return (
    `Forecast of ${name} for ${points.length} days, ${formatShortDay(first.date, where)} to ` +
    `${formatShortDay(last.date, where)}: from ${formatMetric(metric, low, where)} to ` +
    `${formatMetric(metric, high, where)} a day. Every day's numbers are in the table below.`
  );
}

export function ForecastChart({ width = 720, metric, points, actuals, holidays, where }: Props) {
  const WIDTH = width;
  const narrow = width < 500;
  const MARGIN = { ...MARGINS, left: narrow ? 48 : 72 };
  const label = chartLabel(metric, points, where);
  const dates = [...actuals.map((a) => a.date), ...points.map((p) => p.date)].map((d) =>
    day(d).getTime(),
  );
  const start = Math.min(...dates) - DAY_MS / 2;
  const end = Math.max(...dates) + DAY_MS / 2;
  const adjusted = points.filter(
    (p): p is ChartPoint & { adjusted_p50: number } => p.adjusted_p50 != null,
  );
  const top =
    Math.max(
      1,
      ...points.map((p) => p.p90),
      ...actuals.map((a) => a.value),
      ...adjusted.map((p) => p.adjusted_p50),
    ) * 1.08;
  const x = scaleUtc({
    domain: [new Date(start), new Date(end)],
    range: [0, WIDTH - MARGIN.left - MARGIN.right],
  });
  const y = scaleLinear({
    domain: [0, top],
    range: [HEIGHT - MARGIN.top - MARGIN.bottom, 0],
    nice: true,
  });
  const at = (iso: string) => x(day(iso)) ?? 0;
  const dayWidth = Math.max(1, (x(new Date(start + DAY_MS)) ?? 0) - (x(new Date(start)) ?? 0));
  const closed = points.filter((p) => p.p90 === 0).map((p) => p.date);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const compact = new Intl.NumberFormat(where.locale, {
    notation: "compact",
    maximumFractionDigits: 1,
    ...(metric === "sales" ? { style: "currency", currency: where.currency } : {}),
  });

  return (
    <svg
      role="img"
      aria-label={label}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      className="chart"
      preserveAspectRatio="xMidYMid meet"
    >
      <title>{label}</title>
      <Group left={MARGIN.left} top={MARGIN.top}>
        {[...holidays].map((iso) => (
          <rect
            key={`h-${iso}`}
            className="chart-holiday"
            x={at(iso) - dayWidth / 2}
            y={0}
            width={dayWidth}
            height={plotHeight}
          />
        ))}
        {closed.map((iso) => (
          <rect
            key={`c-${iso}`}
            className="chart-closed"
            x={at(iso) - dayWidth / 2}
            y={0}
            width={dayWidth}
            height={plotHeight}
          />
        ))}
        <Area<ChartPoint>
          data={points}
          x={(p) => at(p.date)}
          y0={(p) => y(p.p10) ?? 0}
          y1={(p) => y(p.p90) ?? 0}
          className="chart-band"
        />
        <LinePath<ChartPoint>
          data={points}
          x={(p) => at(p.date)}
          y={(p) => y(p.p50) ?? 0}
          className="chart-p50"
        />
        {actuals.length > 0 && (
          <LinePath<ChartActual>
            data={actuals}
            x={(a) => at(a.date)}
            y={(a) => y(a.value) ?? 0}
            className="chart-actual"
          />
        )}
        {adjusted.map((p) => (
          <circle
            key={`a-${p.date}`}
            className="chart-adjusted"
            cx={at(p.date)}
            cy={y(p.adjusted_p50) ?? 0}
            r={narrow ? 3 : 4}
          />
        ))}
        <AxisLeft
          scale={y}
          numTicks={narrow ? 4 : 5}
          tickFormat={(v) => compact.format(Number(v))}
          tickLabelProps={{ className: "chart-tick", textAnchor: "end", dx: -4, dy: 4 }}
          axisLineClassName="chart-axis"
          tickClassName="chart-axis"
        />
        <AxisBottom
          top={plotHeight}
          scale={x}
          numTicks={narrow ? 3 : 6}
          tickFormat={(v) => formatShortDay((v as Date).toISOString().slice(0, 10), where)}
          tickLabelProps={{ className: "chart-tick", textAnchor: "middle" }}
          axisLineClassName="chart-axis"
          tickClassName="chart-axis"
        />
      </Group>
    </svg>
  );
}
