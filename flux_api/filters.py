"""Query parameters that several routes share: a date range and a metric."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Query, status

from flux_api.schemas import Metric


@dataclass(frozen=True)
class DateRange:
    start: date | None
    end: date | None

    def conditions(self, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        bounds: list[sa.ColumnElement[bool]] = []
        if self.start is not None:
            bounds.append(column >= self.start)
        if self.end is not None:
            bounds.append(column <= self.end)
        return bounds


def date_range(
    start: Annotated[date | None, Query(description="first day, inclusive")] = None,
    end: Annotated[date | None, Query(description="last day, inclusive")] = None,
) -> DateRange:
    if start is not None and end is not None and start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start is after end")
    return DateRange(start, end)


DateRangeDep = Annotated[DateRange, Depends(date_range)]
MetricQuery = Annotated[Metric | None, Query(description="one metric; all when omitted")]
