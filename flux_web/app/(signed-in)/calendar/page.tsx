// For owners and managers: the days they tell Flux about (closed, an event, a promotion), and
// their own numbers for coming days beside the model's, with whether those numbers helped.
import {
  ForgetDayButton,
  NumberForm,
  RemoveNumberButton,
  TellDayForm,
} from "@/components/CalendarForms";
import {
  getAdjustmentAccuracy,
  getTenant,
  listAdjustments,
  listToldDays,
  type ToldDay,
} from "@/lib/api";
import {
  addDays,
  adjustmentsInWords,
  formatDay,
  formatMetric,
  formatWeekday,
  isoDay,
  METRIC_NAMES,
  type Metric,
} from "@/lib/format";

export const metadata = { title: "Calendar" };

const PAST_DAYS = 56;
const AHEAD_DAYS = 3 * 366;
const KIND_NAMES: Record<ToldDay["kind"], string> = {
  closed: "Closed",
  event: "Event",
  promotion: "Promotion",
};

export default async function CalendarPage() {
  const today = isoDay(new Date());
  const [tenant, days, numbers, scores] = await Promise.all([
    getTenant(),
    listToldDays(addDays(today, -PAST_DAYS), addDays(today, AHEAD_DAYS)),
    listAdjustments(addDays(today, -PAST_DAYS), addDays(today, AHEAD_DAYS)),
    getAdjustmentAccuracy(),
  ]);
  const where = { locale: tenant.locale, currency: tenant.currency };
  return (
    <>
      <h1>Calendar</h1>
      <section className="card" aria-labelledby="days-heading">
        <h2 id="days-heading">Days you told Flux about</h2>
        <p className="muted">
          A closed day is forecast as zero at once and left out of every score. Events and
          promotions are learned from when the models next train.
        </p>
        {days.length === 0 ? (
          <p>None in the last {PAST_DAYS / 7} weeks or ahead.</p>
        ) : (
          <div className="table-wrap" role="region" aria-label="Days you told" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">What</th>
                  <th scope="col">Note</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {days.map((day) => (
                  <tr key={day.day_id}>
                    <th scope="row">
                      {formatWeekday(day.date, where, "short")} {formatDay(day.date, where)}
                    </th>
                    <td>{KIND_NAMES[day.kind]}</td>
                    <td>{day.note}</td>
                    <td>
                      <ForgetDayButton
                        dayId={day.day_id}
                        label={`${KIND_NAMES[day.kind].toLowerCase()} on ${day.date}`}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h3>Tell Flux about a day</h3>
        <TellDayForm today={today} />
      </section>
      <section className="card" aria-labelledby="numbers-heading">
        <h2 id="numbers-heading">Your own numbers</h2>
        <p className="muted">
          Where you know better (a party of forty, a fair next door), set a number for the day. The
          forecast shows it beside the model&apos;s, and both are scored once the day is over.
        </p>
        {scores.map((score) => (
          <p key={score.metric}>{adjustmentsInWords(score, where)}</p>
        ))}
        {numbers.length > 0 && (
          <div className="table-wrap" role="region" aria-label="Your numbers" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">Of</th>
                  <th scope="col" className="number">
                    Model
                  </th>
                  <th scope="col" className="number">
                    Yours
                  </th>
                  <th scope="col" className="number">
                    Actual
                  </th>
                  <th scope="col">Why</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {numbers.map((n) => {
                  const metric = n.metric as Metric;
                  return (
                    <tr key={`${n.metric}-${n.date}`}>
                      <th scope="row">
                        {formatWeekday(n.date, where, "short")} {formatDay(n.date, where)}
                      </th>
                      <td>{METRIC_NAMES[metric]}</td>
                      <td className="number">
                        {n.model_p50 == null ? "—" : formatMetric(metric, n.model_p50, where)}
                      </td>
                      <td className="number">{formatMetric(metric, n.value, where)}</td>
                      <td className="number">
                        {n.actual == null ? "—" : formatMetric(metric, n.actual, where)}
                      </td>
                      <td>
                        {n.reason}
                        {n.set_by && <span className="muted"> ({n.set_by})</span>}
                      </td>
                      <td>
                        {n.actual == null && n.date >= addDays(today, -1) && (
                          <RemoveNumberButton
                            day={n.date}
                            metric={n.metric}
                            label={`${METRIC_NAMES[metric].toLowerCase()} number for ${n.date}`}
                          />
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <h3>Set a number of your own</h3>
        <NumberForm today={today} />
      </section>
    </>
  );
}
