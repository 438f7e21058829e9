"""Three demo restaurants with two years of realistic daily sales, generated deterministically.

Each series has weekly and yearly seasonality, a trend, the country's public holidays, a weekday
on which the restaurant is always closed, a few closures (days with no row, as real point-of-sale
exports have them), multiplicative noise, and a handful of broken lines to show rejections.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

DAYS = 730


@dataclass(frozen=True)
class DemoRestaurant:
    slug: str
    name: str
    country: str
    base_sales: float
    avg_ticket: float
    weekly: tuple[float, float, float, float, float, float, float]  # Monday .. Sunday; 0 = closed
    summer_peak: float
    trend_per_year: float
    seed: int


RESTAURANTS = (
    DemoRestaurant(
        "trattoria-roma",
        "Trattoria Roma",
        "US",
        5200,
        48.0,
        (0, 0.8, 0.85, 0.95, 1.25, 1.5, 1.1),
        0.12,
        0.08,
        11,
    ),
    DemoRestaurant(
        "harbour-cafe",
        "The Harbour Café",
        "GB",
        2100,
        17.5,
        (0.8, 0.78, 0.82, 0.88, 1.05, 1.45, 1.35),
        0.25,
        0.04,
        22,
    ),
    DemoRestaurant(
        "sakura-ramen",
        "Sakura Ramen",
        "JP",
        3300,
        21.0,
        (1.0, 0, 0.95, 1.0, 1.2, 1.4, 1.25),
        0.06,
        -0.03,
        33,
    ),
)


def demo_sales(restaurant: DemoRestaurant, end: dt.date) -> pd.DataFrame:
    """Daily `date, sales, covers` for the DAYS days up to ``end``; closed days have no row."""
    rng = np.random.default_rng(restaurant.seed)
    dates = pd.date_range(end=pd.Timestamp(end), periods=DAYS, freq="D")
    years = (dates - dates[0]).days.to_numpy() / 365.25
    weekly = np.array(restaurant.weekly)[dates.dayofweek]
    # Peak in mid-July, trough in mid-January.
    yearly = 1 + restaurant.summer_peak * np.cos(
        2 * np.pi * (dates.dayofyear.to_numpy() - 196) / 365.25
    )
    trend = (1 + restaurant.trend_per_year) ** years
    calendar = holidays.country_holidays(
        restaurant.country, years=range(dates[0].year, dates[-1].year + 1)
    )
    is_holiday = np.array([d.date() in calendar for d in dates])
    holiday_effect = np.where(is_holiday, 1.35, 1.0)
    noise = rng.lognormal(mean=0.0, sigma=0.09, size=len(dates))
    sales = restaurant.base_sales * weekly * yearly * trend * holiday_effect * noise
    covers = sales / (restaurant.avg_ticket * rng.lognormal(0.0, 0.05, size=len(dates)))

    open_day = weekly > 0
    # Christmas Day, and a week of works once, with no row at all.
    open_day &= ~((dates.month == 12) & (dates.day == 25))
    closure_start = int(rng.integers(60, DAYS - 120))
    open_day[closure_start : closure_start + 7] = False
    frame = pd.DataFrame(
        {"date": dates.date, "sales": sales.round(2), "covers": covers.round().astype(int)}
    )
    return frame[open_day].reset_index(drop=True)


def write_demo_csv(restaurant: DemoRestaurant, end: dt.date, folder: Path) -> Path:
    frame = demo_sales(restaurant, end)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{restaurant.slug}.csv"
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines()
    if restaurant.slug == "trattoria-roma":
        # What real exports contain now and then; each must be rejected with its line and reason.
        # (Mondays: the restaurant is closed then, so these lines collide with no real day.)
        mondays = [d for d in pd.date_range(frame.date[30], periods=21).date if d.weekday() == 0]
        lines[40:40] = [
            f"{mondays[0]},-120.00,14",
            "2024-13-45,812.40,17",
            f"{mondays[1]},655.10,n/a",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path
