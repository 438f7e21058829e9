import { getCurrentModels, getLiveAccuracy, getTenant, type LiveAccuracy } from "@/lib/api";
import {
  accuracyInWords,
  comparedWithBaseline,
  formatMoment,
  formatPercent,
  METRIC_NAMES,
  modelName,
  type Metric,
} from "@/lib/format";

export const metadata = { title: "Models" };

export default async function ModelsPage() {
  const [tenant, models, live] = await Promise.all([
    getTenant(),
    getCurrentModels(),
    getLiveAccuracy(),
  ]);
  const where = { locale: tenant.locale, currency: tenant.currency };
  return (
    <>
      <h1>Models</h1>
      <p className="muted">
        For each measure, Flux tries several models on the last weeks it already knows (a backtest)
        and keeps the one that forecast them best, if it beats the rule of thumb “same day last
        week”.
      </p>
      {models.length === 0 && (
        <div className="card">
          <p>No model has been trained yet.</p>
        </div>
      )}
      <div className="grid-2">
        {models.map((model) => {
          const compared = comparedWithBaseline(model, where);
          return (
            <section key={model.metric} className="card" aria-labelledby={`${model.metric}-model`}>
              <h2 id={`${model.metric}-model`}>{METRIC_NAMES[model.metric as Metric]}</h2>
              <dl className="facts">
                <dt>Champion</dt>
                <dd>
                  {modelName(model.model_kind)} (version {model.version})
                </dd>
                <dt>Average error</dt>
                <dd>
                  {model.wape != null ? formatPercent(model.wape, where) : "—"}
                  {model.baseline_wape != null &&
                    ` (“same day last week”: ${formatPercent(model.baseline_wape, where)})`}
                </dd>
                {compared && (
                  <>
                    <dt>Against the rule</dt>
                    <dd>{compared}</dd>
                  </>
                )}
                <dt>Trained</dt>
                <dd>{formatMoment(model.trained_at, where)}</dd>
              </dl>
              <LiveFacts
                rows={live.filter((row) => row.metric === model.metric)}
                format={(value) => formatPercent(value, where)}
              />
              <p>{accuracyInWords(model, where)}</p>
            </section>
          );
        })}
      </div>
    </>
  );
}

/** What the forecasts shown did against what happened, beside the backtest's figure. */
function LiveFacts({ rows, format }: { rows: LiveAccuracy[]; format: (value: number) => string }) {
  if (rows.length === 0) {
    return <p className="muted">No day it forecast has its actual yet.</p>;
  }
  return (
    <table aria-label="Forecasts shown against actuals">
      <thead>
        <tr>
          <th scope="col">Last days</th>
          <th scope="col">Days</th>
          <th scope="col">Average error</th>
          <th scope="col">Bias</th>
          <th scope="col">Within range</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.window_days}>
            <td>{row.window_days}</td>
            <td>{row.days}</td>
            <td>{row.wape != null ? format(row.wape) : "—"}</td>
            <td>{row.bias != null ? format(row.bias) : "—"}</td>
            <td>{row.coverage_p10_p90 != null ? format(row.coverage_p10_p90) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
