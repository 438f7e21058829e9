"""Query parameters that several routes share: a date range, a metric, and a page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Query, status

from flux_api.reads import ReadConnection, Statement
from flux_api.schemas import Metric

MAX_PAGE = 1000


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


async def date_range(
    start: Annotated[date | None, Query(description="first day, inclusive")] = None,
    end: Annotated[date | None, Query(description="last day, inclusive")] = None,
) -> DateRange:
    if start is not None and end is not None and start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start is after end")
    return DateRange(start, end)


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


DateRangeDep = Annotated[DateRange, Depends(date_range)]
PageDep = Annotated[PageParams, Depends(page_params)]
MetricQuery = Annotated[Metric | None, Query(description="one metric; all when omitted")]


def paged(
    conn: sa.Connection, query: sa.Select[Any], page: PageParams
) -> tuple[list[sa.RowMapping], int]:
    """One page of ``query`` and the total number of its rows, in one statement when it has rows."""
    rows = list(
        conn.execute(
            query.add_columns(sa.func.count().over().label("_total"))
            .limit(page.limit)
            .offset(page.offset)
        ).mappings()
    )
    if rows:
        return rows, int(rows[0]["_total"])
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    return rows, int(total)


async def page_of(
    conn: ReadConnection, statements: tuple[Statement, Statement], page: PageParams, **values: Any
) -> tuple[list[dict[str, Any]], int]:
    """``paged`` on the read path: ``statements`` from ``reads.compile_statement`` of a query's
    page (with ``_total`` over the window, ``limit`` and ``offset`` bound) and of its count."""
    with_total, count = statements
    rows = list(await with_total.fetch(conn, limit=page.limit, offset=page.offset, **values))
    if rows:
        return rows, int(rows[0]["_total"])
    counted = await count.fetch(conn, **values)
    return rows, int(counted[0]["_total"])
