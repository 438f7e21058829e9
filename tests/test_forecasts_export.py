"""``export_forecasts``: the current forecasts as CSV, all tenants or one."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pandas as pd
import sqlalchemy as sa

from flux_core.forecasts.export import COLUMNS, export_forecasts
from flux_core.forecasts.writer import MetricForecast, replace_forecasts
from flux_core.settings import FluxSettings


def _frame(days: int, level: float) -> pd.DataFrame:
    dates = pd.date_range("2025-03-01", periods=days, freq="D").date
    return pd.DataFrame({"date": dates, "p10": level * 0.8, "p50": level, "p90": level * 1.3})


def test_export_writes_every_tenant_or_one(
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant: Callable[..., UUID],
    tmp_path: Path,
) -> None:
    first, second = make_tenant(), make_tenant()
    replace_forecasts(
        pipeline_engine,
        first,
        [MetricForecast("sales", 3, _frame(4, 100.0)), MetricForecast("covers", 2, _frame(4, 9))],
    )
    replace_forecasts(pipeline_engine, second, [MetricForecast("sales", 1, _frame(2, 50.0))])

    one = tmp_path / "one.csv"
    assert export_forecasts(settings, one, tenant_id=first) == 8
    with one.open() as src:
        rows = list(csv.DictReader(src))
    assert tuple(rows[0]) == COLUMNS
    assert {r["tenant"] for r in rows} == {str(first)}
    sales = [r for r in rows if r["metric"] == "sales"]
    assert [r["date"] for r in sales] == [f"2025-03-0{d}" for d in range(1, 5)]
    assert {(float(r["p10"]), float(r["p50"]), float(r["p90"])) for r in sales} == {
        (80.0, 100.0, 130.0)
    }
    assert {r["model_version"] for r in sales} == {"3"}

    everyone = tmp_path / "all" / "forecasts.csv"
    written = export_forecasts(settings, everyone)
    frame = pd.read_csv(everyone)
    assert written == len(frame) >= 10
    assert {str(first), str(second)} <= set(frame["tenant"])
    keys = list(zip(frame["tenant"], frame["metric"], frame["date"], strict=True))
    assert keys == sorted(keys)
