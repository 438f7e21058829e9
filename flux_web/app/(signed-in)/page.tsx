// The home page, for every role: what to expect in the coming days, and how far to trust it.
import { ForecastChart, type ChartActual } from "@/components/ForecastChart";
import { ForecastTable, type TablePoint } from "@/components/ForecastTable";
import { getCalendar, getDailySales, getForecasts, getTenant, type ForecastModel } from "@/lib/api";
import {
  accuracyInWords,
  addDays,
  formatMetric,
  formatMoment,
  formatRange,
  formatWeekday,
  isoDay,
  METRIC_NAMES,
  modelName,
  type Metric,
} from "@/lib/format";
import { seesActuals } from "@/lib/roles";
import { requireSession } from "@/lib/session";

export const metadata = { title: "Forecasts" };

const HORIZON_DAYS = 28;
const ACTUAL_WEEKS = 6;
const SHOWN: Metric[] = ["sales", "covers"];
const TAGS = { event: "Event", promotion: "Promotion", school_holiday: "School holidays" };

export default async function ForecastsPage() {
  const session = await requireSession();
  const today = isoDay(new Date());
  const last = addDays(today, HORIZON_DAYS - 1);
  const withActuals = seesActuals(session.role);
  const [tenant, forecast, calendar, actuals] = await Promise.all([
    getTenant(),
    getForecasts(today, last),
    getCalendar(addDays(today, -7 * ACTUAL_WEEKS), last),
    withActuals ? getDailySales(addDays(today, -7 * ACTUAL_WEEKS), addDays(today, -1)) : [],
  ]);
  const where = { locale: tenant.locale, currency: tenant.currency };
  const holidays = new Map(
    calendar.filter((d) => d.kind === "public_holiday").map((d) => [d.date, d.name]),
  );
  // Events, promotions and school holidays: said in the table, learned from by the models.
  const told = new Map(
    calendar
      .filter((d) => d.kind in TAGS)
      .map((d) => [d.date, `${TAGS[d.kind as keyof typeof TAGS]}: ${d.name}`]),
  );
  const metrics = SHOWN.filter((m) => forecast.items.some((p) => p.metric === m));

  return (
    <>
      <h1>Forecasts</h1>
      {metrics.length === 0 && (
        <div className="card">
          <p>
            There is no forecast yet. Once your sales history is uploaded and the models have been
            trained, the coming days appear here.
          </p>
        </div>
      )}
      {metrics.map((metric) => {
        const points: TablePoint[] = forecast.items.filter((p) => p.metric === metric);
        const model = forecast.models.find((m) => m.metric === metric);
        const shownActuals: ChartActual[] = actuals
          .filter((a) => a.metric === metric)
          .map((a) => ({ date: a.date, value: a.value }));
        const shownHolidays = new Set(
          [...points.map((p) => p.date), ...shownActuals.map((a) => a.date)].filter((d) =>
            holidays.has(d),
          ),
        );
        const next = points.find((p) => p.date > today) ?? points[0];
        // Told closed, or forecast as zero from the history (a weekly closing day).
        const closed = next !== undefined && (next.closed === true || next.p90 === 0);
        return (
          <section key={metric} className="card" aria-labelledby={`${metric}-heading`}>
            <h2 id={`${metric}-heading`}>{METRIC_NAMES[metric]}</h2>
            {next && (
              <p className="headline">
                {formatWeekday(next.date, where)}:{" "}
                <strong>{closed ? "closed" : formatMetric(metric, next.p50, where)}</strong>
                {!closed && (
                  <span className="muted">
                    {" "}
                    (likely {formatRange(metric, next.p10, next.p90, where)})
                  </span>
                )}
                {!closed && next.adjusted_p50 != null && (
                  <>; your number: {formatMetric(metric, next.adjusted_p50, where)}</>
                )}
              </p>
            )}
            {/* Drawn twice, for a wide screen and for a phone (text stays legible at both);
                CSS shows one, and the hidden one is out of the accessibility tree too. */}
            {[720, 360].map((width) => (
              <div key={width} className={width > 500 ? "chart-wide" : "chart-narrow"}>
                <ForecastChart
                  width={width}
                  metric={metric}
                  points={points}
                  actuals={shownActuals}
                  holidays={shownHolidays}
                  where={where}
                />
              </div>
            ))}
            <ul className="legend" aria-label="Legend">
              <li>
                <span className="swatch swatch-p50" aria-hidden="true" />
                Forecast (P50)
              </li>
              <li>
                <span className="swatch swatch-band" aria-hidden="true" />
                Likely range (P10–P90)
              </li>
              {shownActuals.length > 0 && (
                <li>
                  <span className="swatch swatch-actual" aria-hidden="true" />
                  Actual, last {ACTUAL_WEEKS} weeks
                </li>
              )}
              <li>
                <span className="swatch swatch-holiday" aria-hidden="true" />
                Public holiday
              </li>
              <li>
                <span className="swatch swatch-closed" aria-hidden="true" />
                Closed
              </li>
              {points.some((p) => p.adjusted_p50 != null) && (
                <li>
                  <span className="swatch swatch-adjusted" aria-hidden="true" />
                  Your number
                </li>
              )}
            </ul>
            {model && <ModelNote model={model} where={where} />}
            <ForecastTable
              metric={metric}
              points={points}
              holidays={holidays}
              told={told}
              where={where}
            />
          </section>
        );
      })}
    </>
  );
}

function ModelNote({
  model,
  where,
}: {
  model: ForecastModel;
  where: { locale: string; currency: string };
}) {
  return (
    <p>
      <strong>How far to trust it:</strong> {accuracyInWords(model, where)}{" "}
      <span className="muted">
        Made by {modelName(model.model_kind)}; updated {formatMoment(model.generated_at, where)}.
      </span>
    </p>
  );
}
