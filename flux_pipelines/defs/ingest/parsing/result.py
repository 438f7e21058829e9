"""What parsing an upload gives back: valid data and rejected lines, or a refusal of the file."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

REJECTED_COLUMNS = ["line_number", "column_name", "value", "reason"]
DAILY_COLUMNS = ["date", "metric", "value"]
ITEM_COLUMNS = ["date", "item", "quantity", "revenue"]


class UnreadableUpload(ValueError):
    """The whole file is refused; ``str(error)`` is written for a restaurant owner."""


@dataclass(frozen=True)
class ParsedUpload:
    format: str
    daily: pd.DataFrame
    items: pd.DataFrame | None
    rejected: pd.DataFrame
    rows_total: int
    warnings: list[str] = field(default_factory=list)


def rejections(
    line_numbers: pd.Series | list[int],
    column_name: str | None,
    values: pd.Series | list[str | None] | None,
    reason: str | pd.Series,
) -> pd.DataFrame:
    """Rejected lines in the report's shape; one reason (or one per line) for all of them."""
    lines = pd.Series(line_numbers, dtype="int64").reset_index(drop=True)
    if values is None:
        value_series = pd.Series([None] * len(lines), dtype=object)
    else:
        value_series = pd.Series(values, dtype=object).reset_index(drop=True)
        value_series = value_series.where(value_series.notna(), None)
    reasons = (
        reason.astype(object).reset_index(drop=True)
        if isinstance(reason, pd.Series)
        else pd.Series([reason] * len(lines), dtype=object)
    )
    return pd.DataFrame(
        {
            "line_number": lines,
            "column_name": pd.Series([column_name] * len(lines), dtype=object),
            "value": value_series,
            "reason": reasons,
        }
    )


def no_rejections() -> pd.DataFrame:
    # Most uploads reject nothing; building the empty frame costs more than reading a small file.
    return _NO_REJECTIONS.copy()


_NO_REJECTIONS = rejections([], None, None, "")


def combine_rejections(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return no_rejections()
    combined = pd.concat(frames, ignore_index=True)
    return combined.sort_values(["line_number"], kind="stable").reset_index(drop=True)
