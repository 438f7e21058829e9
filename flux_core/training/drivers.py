"""What a restaurant knows about coming days that its sales cannot show: bookings already on the
books, and the days it told Flux about (events and promotions; closures are handled apart, as
days forecast as zero and left out of every score).

Bookings are kept as made: for each booking, the day of the visit, the day it was made, and the
party size. What the models may read at a forecast origin is only what was booked by then
(``booked_by``): a booking made after the origin is in the future of that forecast, and using it
would be a leak that flatters every backtest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# A visit day and a booking day packed in one sortable key (positions are days from a start).
_SPAN = np.int64(1 << 32)
_OFFSET = np.int64(1 << 31)


@dataclass(frozen=True)
class Drivers:
    """``bookings``: visit_date, booked_on, covers (one row per booking, or summed per pair of
    days); ``events``: the days flagged as an event or a promotion."""

    bookings: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"visit_date": pd.Series(dtype="datetime64[ns]")}
            | {"booked_on": pd.Series(dtype="datetime64[ns]"), "covers": pd.Series(dtype="float64")}
        )
    )
    events: tuple[pd.Timestamp, ...] = ()

    @property
    def empty(self) -> bool:
        return self.bookings.empty and not self.events

    def booking_index(self, start: pd.Timestamp) -> BookingIndex:
        return BookingIndex.of(self.bookings, start)

    def event_flags(self, start: pd.Timestamp, days: int) -> np.ndarray:
        """1.0 on the flagged days among the ``days`` from ``start``."""
        flags = np.zeros(days)
        for day in self.events:
            position = (pd.Timestamp(day).normalize() - start).days
            if 0 <= position < days:
                flags[position] = 1.0
        return flags


@dataclass(frozen=True)
class BookingIndex:
    """Bookings by (visit day, booking day), with running totals, relative to a start day: the
    covers booked for any day as known at any origin, for many pairs at once."""

    keys: np.ndarray  # sorted: visit * _SPAN + booked + _OFFSET
    totals: np.ndarray  # covers up to and including each key, a leading 0
    first_booked: int  # position of the first day a booking was made (a large number if none)

    @classmethod
    def of(cls, bookings: pd.DataFrame, start: pd.Timestamp) -> BookingIndex:
        if bookings.empty:
            return cls(np.zeros(0, np.int64), np.zeros(1), np.iinfo(np.int32).max)
        visit = (pd.to_datetime(bookings["visit_date"]).dt.normalize() - start).dt.days
        booked = (pd.to_datetime(bookings["booked_on"]).dt.normalize() - start).dt.days
        # A booking cannot be made after its visit is over; "made on the day" is fine.
        booked = np.minimum(booked.to_numpy(np.int64), visit.to_numpy(np.int64))
        keys = visit.to_numpy(np.int64) * _SPAN + booked + _OFFSET
        order = np.argsort(keys, kind="stable")
        covers = bookings["covers"].to_numpy("float64")[order]
        totals = np.concatenate([[0.0], np.cumsum(covers)])
        return cls(keys[order], totals, int(booked.min()))

    def booked_by(self, origin: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Covers booked for each ``day`` (position) on or before each ``origin`` (position)."""
        day = np.asarray(day, np.int64)
        origin = np.asarray(origin, np.int64)
        low = np.searchsorted(self.keys, day * _SPAN, side="left")
        high = np.searchsorted(self.keys, day * _SPAN + origin + _OFFSET, side="right")
        return self.totals[high] - self.totals[low]

    def known_at(self, origin: np.ndarray) -> np.ndarray:
        """1.0 where the restaurant's bookings had begun by the origin: the model can tell a
        day with no bookings from a restaurant that takes none."""
        return (np.asarray(origin) >= self.first_booked).astype("float64")
