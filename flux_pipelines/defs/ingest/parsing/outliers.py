"""Suspicious but plausible values: flagged for the restaurant, never dropped."""

from __future__ import annotations

import pandas as pd

MAX_LISTED = 5
# How many median absolute deviations from the median before a value is worth a second look.
THRESHOLD = 8.0
MIN_DAYS = 14


def outlier_warnings(frame: pd.DataFrame, measures: list[str], names: dict[str, str]) -> list[str]:
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
            f"line {int(frame.at[i, 'line_number'])} ({far[i]:g})" for i in far.index[:MAX_LISTED]
        )
        more = f" and {len(far) - MAX_LISTED} more" if len(far) > MAX_LISTED else ""
        warnings.append(
            f"{len(far)} unusual {names.get(measure, measure)} value(s), far from the usual "
            f"{median:g}: {listed}{more}. They were loaded; please check them."
        )
    return warnings
