"""Suspicious but plausible values: flagged for the restaurant, never dropped."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_LISTED = 5
# How many median absolute deviations from the median before a value is worth a second look.
THRESHOLD = 8.0
MIN_DAYS = 14
# Units of one item on one line worth a second look: at least this many, and this many times the
# file's usual (median) quantity. A catering order of 40 coffees is normal; 5000 naans is a typo.
ABSURD_QUANTITY = 100.0
ABSURD_FACTOR = 50.0


def outlier_warnings(
    frame: pd.DataFrame, measures: list[str], names: dict[str, str], where: str = "line_number"
) -> list[str]:
    """One warning per measure with values far from its median; each value is cited by the
    ``where`` column: a line number (daily files) or a date (line items, per day)."""
    warnings: list[str] = []
    for measure in measures:
        values = frame[measure].dropna()
        if len(values) < MIN_DAYS:
            continue
        median = float(values.median())
        spread = float((values - median).abs().median())
        if spread == 0:
            continue
        far = values[(values - median).abs() > THRESHOLD * spread]
        if far.empty:
            continue
        listed = ", ".join(
            f"{_place(frame.at[i, where], where)} ({far[i]:g})" for i in far.index[:MAX_LISTED]
        )
        more = f" and {len(far) - MAX_LISTED} more" if len(far) > MAX_LISTED else ""
        warnings.append(
            f"{len(far)} unusual {names.get(measure, measure)} value(s), far from the usual "
            f"{median:g}: {listed}{more}. They were loaded; please check them."
        )
    return warnings


def _place(value: typing.Any, where: str) -> str:
    return f"line {int(value)}" if where == "line_number" else str(value)


@dataclass
class QuantityWatch:
    """Quantities per line of a line-item export, kept as counts per distinct value (a file has a
    handful), plus the first lines of each large value, to flag absurd ones at the end."""

    counts: dict[float, int] = field(default_factory=dict)
    large: dict[float, list[int]] = field(default_factory=dict)

    def add(self, values: np.ndarray, counts: np.ndarray) -> None:
        """Distinct quantities of some lines and how many lines have each."""
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            if count:
                self.counts[value] = self.counts.get(value, 0) + count

    def add_large(self, quantities: np.ndarray, lines: np.ndarray) -> None:
        """Lines whose quantity is at least ``ABSURD_QUANTITY`` (the caller picks them)."""
        for value, line in zip(quantities.tolist(), lines.tolist(), strict=True):
            listed = self.large.setdefault(value, [])
            if len(listed) < MAX_LISTED:
                listed.append(line)

    def warning(self, name: str) -> str | None:
        if not self.large:
            return None
        values = np.array(list(self.counts), dtype=np.float64)
        weights = np.array(list(self.counts.values()), dtype=np.int64)
        order = np.argsort(values)
        cumulative = np.cumsum(weights[order])
        median = float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
        limit = max(ABSURD_QUANTITY, ABSURD_FACTOR * median)
        absurd = sorted(
            (
                (line, value)
                for value, lines in self.large.items()
                if value > limit
                for line in lines
            )
        )
        if not absurd:
            return None
        total = sum(self.counts[value] for value in self.large if value > limit)
        listed = ", ".join(f"line {line} ({value:g})" for line, value in absurd[:MAX_LISTED])
        more = f" and {total - MAX_LISTED} more" if total > MAX_LISTED else ""
        return (
            f"{total} line(s) with an unusually large {name} (the usual is {median:g}): "
            f"{listed}{more}. They were loaded; please check them."
        )
