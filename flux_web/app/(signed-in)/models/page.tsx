import { getCurrentModels, getTenant } from "@/lib/api";
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
  const [tenant, models] = await Promise.all([getTenant(), getCurrentModels()]);
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
              <p>{accuracyInWords(model, where)}</p>
            </section>
          );
        })}
      </div>
    </>
  );
}
