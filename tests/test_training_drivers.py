"""What the models may know of bookings and flagged days (``drivers.py``), and that they use it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flux_core.training.candidates import ProphetForecaster, XGBoostForecaster
from flux_core.training.direct_features import (
    FEATURES,
    examples,
    origin_state,
    training_examples,
)
from flux_core.training.drivers import Drivers
from flux_core.training.metrics import rmsle

START = pd.Timestamp("2024-01-01")


def _bookings(count: int, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visit = rng.integers(0, days, count)
    lead = rng.integers(0, 40, count)
    return pd.DataFrame(
        {
            "visit_date": START + pd.to_timedelta(visit, unit="D"),
            "booked_on": START + pd.to_timedelta(visit - lead, unit="D"),
            "covers": rng.integers(1, 9, count).astype("float64"),
        }
    )


def test_booked_by_counts_only_what_was_booked_by_the_origin() -> None:
    bookings = _bookings(3000, 300, seed=1)
    index = Drivers(bookings).booking_index(START)
    visit = (bookings["visit_date"] - START).dt.days.to_numpy()
    booked = (bookings["booked_on"] - START).dt.days.to_numpy()
    rng = np.random.default_rng(2)
    origins, days = rng.integers(-50, 320, 500), rng.integers(0, 320, 500)
    expected = [
        bookings["covers"].to_numpy()[(visit == d) & (booked <= o)].sum()
        for o, d in zip(origins, days, strict=True)
    ]
    np.testing.assert_allclose(index.booked_by(origins, days), expected)
    assert (index.booked_by(origins, days) > 0).any()


def _series(days: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(rng.gamma(4.0, 20.0, days), index=pd.date_range(START, periods=days, freq="D"))


def test_a_booking_made_after_the_origin_changes_nothing_the_origin_sees() -> None:
    """The leak test: bookings made after a backtest origin, for days before or after it, leave
    every feature at that origin, and every training example before it, as they were."""
    series = _series(400, 3)
    origin, horizon = 300, 39
    known = _bookings(4000, 400, seed=4)
    known = known[(known["booked_on"] - START).dt.days <= origin]
    later = _bookings(4000, 400, seed=5)
    later["booked_on"] = (
        START
        + pd.Timedelta(days=origin + 1)
        + pd.to_timedelta(np.random.default_rng(6).integers(0, 60, len(later)), unit="D")
    )
    without = origin_state(series, "US", horizon, Drivers(known))
    with_later = origin_state(series, "US", horizon, Drivers(pd.concat([known, later])))

    for rows in (
        lambda s: examples(s, np.array([origin]), horizon),
        lambda s: training_examples(s, horizon, origin, frozenset()),
    ):
        a, b = rows(without), rows(with_later)
        np.testing.assert_array_equal(a.features, b.features)
    # The bookings known by the origin do reach the features of the days ahead.
    ahead = examples(without, np.array([origin]), horizon)
    booked = ahead.features[:, FEATURES.index("booked_share")]
    assert (booked[:7] > 0).all() and booked[:7].sum() > booked[-7:].sum()
    assert (ahead.features[:, FEATURES.index("takes_bookings")] == 1).all()


def test_the_boosted_model_learns_from_bookings_and_flagged_days() -> None:
    """Demand that half follows the bookings and jumps on flagged days: the model that reads
    them forecasts the held-out weeks better, the first week far better, than the same model without them."""
    days, horizon = 560, 28
    rng = np.random.default_rng(7)
    dates = pd.date_range(START, periods=days, freq="D")
    booked_covers = rng.gamma(2.0, 15.0, days)
    events = [dates[i] for i in rng.choice(days, 40, replace=False)]
    demand = 40 + 1.0 * booked_covers + rng.normal(0, 3, days)
    demand[np.isin(dates, events)] *= 2.5
    # Each day's bookings arrive over the 10 days before it.
    lead = rng.integers(0, 10, days)
    bookings = pd.DataFrame(
        {"visit_date": dates, "booked_on": dates - pd.to_timedelta(lead, unit="D")}
        | {"covers": booked_covers}
    )
    drivers = Drivers(bookings, tuple(events))
    series = pd.Series(np.maximum(demand, 0), index=dates)
    train, held = series.iloc[:-horizon], series.iloc[-horizon:]
    scores = {}
    for name, given in (("with", drivers), ("without", None)):
        model = XGBoostForecaster("US", seed=1, horizon=horizon, drivers=given)
        forecast = model.fit(train, frozenset()).predict(held.index)
        p50 = np.asarray(forecast).reshape(len(held), -1)[:, 0]
        scores[name] = rmsle(held.to_numpy()[:7], p50[:7]), rmsle(held.to_numpy(), p50)
    # The first week is mostly booked at the origin; later days are partly, events all along.
    assert scores["with"][0] < 0.6 * scores["without"][0], scores
    assert scores["with"][1] < 0.85 * scores["without"][1], scores


def test_the_channels_drivers_reach_their_tenant_and_closed_days_become_unknown() -> None:
    from flux_core.training.entrypoint import series_jobs

    days = pd.date_range("2024-01-01", periods=10, freq="D")
    data = pd.DataFrame(
        {"tenant_id": ["a"] * 10 + ["b"] * 10, "metric": "covers", "country": "US"}
        | {"date": list(days) * 2, "value": [50.0] * 20}
    )
    drivers = pd.DataFrame(
        {
            "tenant_id": ["a", "a", "b"],
            "kind": ["booking", "event", "closed"],
            "date": [days[3], days[5], days[2]],
            "booked_on": [days[1], None, None],
            "covers": [6.0, None, None],
        }
    )
    a, b = series_jobs(data, drivers)
    assert a.drivers is not None and b.drivers is not None
    assert a.drivers.bookings["covers"].tolist() == [6.0] and a.drivers.events == (days[5],)
    assert b.drivers.bookings.empty and b.drivers.events == ()  # a closure is not an event
    assert a.history["value"].notna().all()
    assert b.history["value"].isna().tolist() == [i == 2 for i in range(10)]


def test_prophet_learns_the_flagged_days_as_a_holiday_of_their_own() -> None:
    series = _series(200, seed=11)
    days = series.index
    # Every ninth day is a flagged event with 80% more demand, and so is a day of the horizon.
    flagged = tuple(days[5::9])
    lifted = series.copy()
    lifted.loc[list(flagged)] *= 1.8
    future = pd.date_range(days.max() + pd.Timedelta(days=1), periods=14)
    event_day = future[6]
    told = ProphetForecaster("US", 1, events=(*flagged, event_day)).fit(lifted, frozenset())
    blind = ProphetForecaster("US", 1).fit(lifted, frozenset())
    with_flag, without = told.predict(future), blind.predict(future)
    plain = [i for i in range(14) if i != 6]
    # On the event day the told model expects much more; on the other days about the same.
    assert with_flag[6] > 1.3 * np.median(with_flag[plain])
    assert with_flag[6] > 1.3 * without[6]
    assert np.allclose(with_flag[plain], without[plain], rtol=0.15)
