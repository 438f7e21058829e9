"""The dbt models, built for real: Dagster materializes ``public_holidays`` and runs ``dbt build``
against the test database, then the tests read ``analytics`` as the pipeline, the API and the
analyst would."""

import datetime as dt
import json
import math
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from flux_core.db.connections import get_engine
from flux_core.db.tables import public_holidays as public_holidays_table
from flux_core.db.tables import staged_item_sales, staged_sales, tenants, uploads
from flux_core.settings import FluxSettings
from flux_core.training.candidates import prophet_holidays
from flux_core.training.direct_features import FEATURES, examples, origin_state
from flux_core.training.entrypoint import series_jobs
from flux_core.training.features import read_training_frame
from flux_pipelines.defs.batches import TenantBatch
from flux_pipelines.defs.features.assets import flux_dbt_models
from flux_pipelines.defs.features.definitions import resources as features_resources
from flux_pipelines.defs.features.docs import generate_docs
from flux_pipelines.defs.features.holidays import CALENDAR_WRITE_LOCK, public_holidays
from flux_pipelines.defs.features.project import flux_dbt_project
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.tenants import TENANTS

FIRST_DAY = dt.date(2024, 11, 1)
LAST_DAY = dt.date(2024, 12, 31)
GAP_DAY = dt.date(2024, 12, 10)
# What the US tenant's line-item export sold: (items, quantities, revenues) per day.
ITEM_DAYS = {
    dt.date(2024, 12, 1): (["Naan", "Rice, pilau"], [2.0, 1.0], [5.2, None]),
    dt.date(2024, 12, 2): (["Naan"], [3.0], [7.8]),
}

FEATURES_CONTRACT = [
    ("tenant_id", "uuid"),
    ("metric", "text"),
    ("date", "date"),
    ("value", "numeric"),
    ("is_observed", "boolean"),
    ("country", "text"),
    ("subdivision", "text"),
    ("day_of_week", "integer"),
    ("day_of_month", "integer"),
    ("month", "integer"),
    ("week_of_year", "integer"),
    ("day_of_year", "integer"),
    ("is_holiday", "boolean"),
    ("holiday_name", "text"),
    ("is_school_holiday", "boolean"),
    ("lag_7", "numeric"),
    ("lag_14", "numeric"),
    ("lag_28", "numeric"),
    ("lag_364", "numeric"),
    ("rolling_mean_7", "numeric"),
    ("rolling_mean_28", "numeric"),
]


@dataclass(frozen=True)
class Built:
    us_tenant: uuid.UUID
    gb_tenant: uuid.UUID
    saxony_tenant: uuid.UUID  # in Germany's Saxony (SN): a regional holiday, school holidays
    us_sales: dict[dt.date, Decimal]
    result: dg.ExecuteInProcessResult
    logged: list[str]  # the build run's log messages


def _insert_tenant(
    conn: sa.Connection,
    country: str,
    days: dict[dt.date, Decimal],
    subdivision: str | None = None,
) -> uuid.UUID:
    tenant_id: uuid.UUID = conn.execute(
        sa.insert(tenants)
        .values(
            name=f"dbt-{country}-{uuid.uuid4().hex[:6]}", country=country, subdivision=subdivision
        )
        .returning(tenants.c.tenant_id)
    ).scalar_one()
    upload_id = uuid.uuid4()
    conn.execute(
        sa.insert(uploads).values(
            upload_id=upload_id,
            tenant_id=tenant_id,
            object_key=f"uploads/tenant={tenant_id}/{upload_id}.csv",
            filename="daily.csv",
            status="loaded",
        )
    )
    rows = [
        {
            "tenant_id": tenant_id,
            "metric": "sales",
            "date": day,
            "value": value,
            "upload_id": upload_id,
        }
        for day, value in days.items()
    ]
    conn.execute(sa.insert(staged_sales), rows)
    return tenant_id


def _days(first: dt.date, last: dt.date, skip: set[dt.date]) -> dict[dt.date, Decimal]:
    """Deterministic, uneven values, so that a lag off by a day would not match by chance."""
    out: dict[dt.date, Decimal] = {}
    day = first
    while day <= last:
        if day not in skip:
            out[day] = Decimal(100 + (day.toordinal() * 37) % 53) + Decimal("0.25")
        day += dt.timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def built(settings: FluxSettings, pipeline_engine: sa.Engine) -> Built:
    us_sales = _days(FIRST_DAY, LAST_DAY, {GAP_DAY})
    with pipeline_engine.begin() as conn:
        us = _insert_tenant(conn, "US", us_sales)
        gb = _insert_tenant(conn, "GB", _days(dt.date(2024, 12, 20), LAST_DAY, set()))
        saxony = _insert_tenant(conn, "DE", _days(dt.date(2024, 11, 15), LAST_DAY, set()), "SN")
        us_upload = conn.execute(
            sa.select(uploads.c.upload_id).where(uploads.c.tenant_id == us)
        ).scalar_one()
        conn.execute(
            sa.insert(staged_item_sales),
            [
                {"tenant_id": us, "date": day, "upload_id": us_upload}
                | dict(zip(("items", "quantities", "revenues"), arrays, strict=True))
                for day, arrays in ITEM_DAYS.items()
            ],
        )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [public_holidays, flux_dbt_models],
            resources={"database": FluxDatabase(), **features_resources()},
            instance=instance,
        )
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return Built(us, gb, saxony, us_sales, result, logged)


TARGET = flux_dbt_project().project_dir / flux_dbt_project().target_path


def folder(run_id: str) -> str:
    """The start of the names of a run's dbt target folders (dagster-dbt: ``<op>-<run id[:7]>-``)."""
    return f"flux_dbt_models-{run_id[:7]}-"


def _features(engine: sa.Engine, tenant_id: uuid.UUID) -> dict[dt.date, sa.Row]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select * from analytics.features_daily "
                "where tenant_id = :t and metric = 'sales' order by date"
            ),
            {"t": tenant_id},
        ).all()
    return {row.date: row for row in rows}


def test_the_build_succeeds_and_runs_dbt_tests_as_asset_checks(built: Built) -> None:
    assert built.result.success
    materialized = {
        event.asset_key.to_user_string()
        for event in built.result.get_asset_materialization_events()
        if event.asset_key
    }
    assert {"public_holidays", "stg_uploads__sales", "int_sales_daily_filled"} <= materialized
    assert {"fct_daily_demand", "features_daily"} <= materialized

    evaluations = built.result.get_asset_check_evaluations()
    assert len(evaluations) == len(flux_dbt_models.check_keys) > 0
    assert all(evaluation.passed for evaluation in evaluations)
    key_test = [
        e
        for e in evaluations
        if e.asset_key == dg.AssetKey("features_daily")
        and e.check_name.startswith("unique_combination_of_columns")
    ]
    assert len(key_test) == 1


def test_item_sales_come_out_one_row_per_item_and_day(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    with pipeline_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select date, item, quantity, revenue from analytics.stg_uploads__item_sales "
                "where tenant_id = :t"
            ),
            {"t": built.us_tenant},
        ).all()
    expected = {
        (day, item, quantity, revenue)
        for day, arrays in ITEM_DAYS.items()
        for item, quantity, revenue in zip(*arrays, strict=True)
    }
    assert {
        (r.date, r.item, float(r.quantity), None if r.revenue is None else float(r.revenue))
        for r in rows
    } == expected
    assert len(rows) == len(expected)


def test_dbt_build_ran_the_unit_tests(built: Built) -> None:
    [line] = [message for message in built.logged if message.startswith("dbt unit tests: ")]
    assert sorted(line.removeprefix("dbt unit tests: ").split(", ")) == [
        "features_daily_lags_and_rolling_means pass",
        "int_sales_daily_filled_makes_missing_days_explicit pass",
        "int_sales_daily_filled_rebuilds_only_the_scoped_tenants pass",
    ]


def test_features_daily_has_the_training_contract_columns(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    with pipeline_engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'analytics' and table_name = 'features_daily' "
                "order by ordinal_position"
            )
        ).all()
    assert [tuple(c) for c in columns] == FEATURES_CONTRACT


def test_a_day_without_data_is_present_and_unknown(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    features = _features(pipeline_engine, built.us_tenant)
    assert min(features) == FIRST_DAY and max(features) == LAST_DAY
    assert len(features) == (LAST_DAY - FIRST_DAY).days + 1
    gap = features[GAP_DAY]
    assert gap.value is None
    assert gap.is_observed is False
    assert all(row.is_observed for day, row in features.items() if day != GAP_DAY)


def test_lags_are_the_values_days_earlier(built: Built, pipeline_engine: sa.Engine) -> None:
    features = _features(pipeline_engine, built.us_tenant)
    for day, row in features.items():
        for lag, column in ((7, row.lag_7), (14, row.lag_14), (28, row.lag_28), (364, row.lag_364)):
            assert column == built.us_sales.get(day - dt.timedelta(days=lag)), (day, lag)
    # The gap is unknown, so the lag that looks back at it is unknown too, not zero.
    assert features[GAP_DAY + dt.timedelta(days=7)].lag_7 is None


def test_rolling_means_exclude_the_day_itself(built: Built, pipeline_engine: sa.Engine) -> None:
    features = _features(pipeline_engine, built.us_tenant)
    for day, row in features.items():
        for window, actual in ((7, row.rolling_mean_7), (28, row.rolling_mean_28)):
            previous = [
                built.us_sales[d]
                for d in (day - dt.timedelta(days=k) for k in range(1, window + 1))
                if d in built.us_sales
            ]
            if not previous:
                assert actual is None, (day, window)
            else:
                expected = sum(previous) / len(previous)
                assert math.isclose(actual, expected, rel_tol=1e-12), (day, window)
    assert features[FIRST_DAY].rolling_mean_7 is None


def test_public_holidays_of_the_tenants_country(built: Built, pipeline_engine: sa.Engine) -> None:
    us = _features(pipeline_engine, built.us_tenant)
    assert us[dt.date(2024, 12, 25)].is_holiday is True
    assert "Christmas" in us[dt.date(2024, 12, 25)].holiday_name
    assert us[dt.date(2024, 11, 28)].is_holiday is True  # Thanksgiving, a US holiday only
    assert us[dt.date(2024, 12, 26)].is_holiday is False
    assert us[dt.date(2024, 12, 26)].holiday_name is None
    gb = _features(pipeline_engine, built.gb_tenant)
    assert gb[dt.date(2024, 12, 26)].is_holiday is True  # Boxing Day in Great Britain
    assert all(row.country == "GB" for row in gb.values())


def test_holidays_of_the_tenants_region_and_its_school_holidays(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    saxony = _features(pipeline_engine, built.saxony_tenant)
    # Repentance and Prayer Day is a public holiday in Saxony only, not Germany-wide.
    assert saxony[dt.date(2024, 11, 20)].is_holiday is True
    assert saxony[dt.date(2024, 11, 20)].holiday_name == "Repentance and Prayer Day"
    assert saxony[dt.date(2024, 12, 26)].is_holiday is True  # a national day, in the region too
    with pipeline_engine.connect() as conn:
        nationwide = conn.execute(
            sa.select(public_holidays_table.c.name).where(
                public_holidays_table.c.country == "DE",
                public_holidays_table.c.subdivision == "",
                public_holidays_table.c.date == dt.date(2024, 11, 20),
            )
        ).all()
    assert nationwide == []
    # Saxony's Christmas school holidays begin on 23 December 2024.
    assert saxony[dt.date(2024, 12, 23)].is_school_holiday is True
    assert saxony[dt.date(2024, 12, 2)].is_school_holiday is False
    # The holidays package has no US school calendar: never a school holiday there.
    us = _features(pipeline_engine, built.us_tenant)
    assert not any(row.is_school_holiday for row in us.values())


def test_the_models_keep_the_holidays_of_the_tenants_region(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    with pipeline_engine.connect() as conn:
        jobs = series_jobs(read_training_frame(conn, [built.saxony_tenant]))
    assert jobs and {job.place for job in jobs} == {"DE-SN"}
    series = jobs[0].series()
    # The boosted models' rows for the days after 15 November: Saxony's holiday and school break.
    state = origin_state(series, jobs[0].place, horizon=60)
    rows = examples(state, [state.position(pd.Timestamp("2024-11-15"))], 60)
    dates = pd.Timestamp("2024-11-15") + pd.to_timedelta(rows.day - rows.origin, unit="D")
    flag = dict(zip(dates.date, rows.features[:, FEATURES.index("is_holiday")], strict=True))
    school = dict(
        zip(dates.date, rows.features[:, FEATURES.index("is_school_holiday")], strict=True)
    )
    assert flag[dt.date(2024, 11, 20)] == 1.0 and flag[dt.date(2024, 11, 21)] == 0.0
    assert school[dt.date(2024, 12, 23)] == 1.0 and school[dt.date(2024, 12, 2)] == 0.0
    # Germany-wide, 20 November is a working day; the US has no school calendar in the package.
    country = origin_state(series, "DE", horizon=60)
    assert country.holidays[state.position(pd.Timestamp("2024-11-20"))] == 0.0
    assert not origin_state(series, "US", horizon=60).school_holidays.any()
    # Prophet's holidays: the region's, each school break one holiday of its own.
    regional = prophet_holidays("DE-SN", 2024, 2024)
    nationwide = prophet_holidays("DE", 2024, 2024)
    assert regional is not None and nationwide is not None
    day = pd.Timestamp("2024-11-20")
    assert "Repentance and Prayer Day" in set(regional.loc[regional["ds"] == day, "holiday"])
    assert day not in set(nationwide["ds"])
    assert pd.Timestamp("2024-12-23") in set(regional["ds"])


def test_calendar_columns(built: Built, pipeline_engine: sa.Engine) -> None:
    features = _features(pipeline_engine, built.us_tenant)
    for day, row in features.items():
        iso = day.isocalendar()
        assert (row.day_of_week, row.week_of_year) == (iso.weekday, iso.week)
        assert (row.day_of_month, row.month) == (day.day, day.month)
        assert row.day_of_year == day.timetuple().tm_yday


def test_the_api_role_sees_only_the_tenant_it_sets(built: Built, api_engine: sa.Engine) -> None:
    count = sa.text("select count(*) from analytics.fct_daily_demand")
    tenant_ids = sa.text("select distinct tenant_id from analytics.fct_daily_demand")
    with api_engine.begin() as conn:
        assert conn.execute(count).scalar_one() == 0
    with api_engine.begin() as conn:
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(built.us_tenant), True)))
        assert conn.execute(count).scalar_one() == len(_features_days(built))
        assert conn.execute(tenant_ids).scalars().all() == [built.us_tenant]
    with api_engine.begin() as conn:
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(built.gb_tenant), True)))
        assert conn.execute(tenant_ids).scalars().all() == [built.gb_tenant]


def _features_days(built: Built) -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]


def test_the_analyst_reads_the_marts_and_nothing_else(built: Built, settings: FluxSettings) -> None:
    analyst = get_engine("analyst", settings)
    with analyst.connect() as conn:
        tenants_seen: int = conn.execute(
            sa.text("select count(distinct tenant_id) from analytics.fct_daily_demand")
        ).scalar_one()
        assert tenants_seen >= 2
    with (
        analyst.connect() as conn,
        pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
    ):
        conn.execute(sa.text("select count(*) from analytics.int_sales_daily_filled"))


def test_rebuilding_keeps_row_level_security(built: Built, api_engine: sa.Engine) -> None:
    """dbt replaces the tables on every build; the policies must come back with them."""
    again = dg.materialize([flux_dbt_models], resources=features_resources())
    assert again.success
    with api_engine.begin() as conn:
        assert (
            conn.execute(sa.text("select count(*) from analytics.features_daily")).scalar_one() == 0
        )


def test_public_holidays_is_idempotent(built: Built, pipeline_engine: sa.Engine) -> None:
    count = sa.text(
        "select count(*), count(distinct date), min(date), max(date) "
        "from flux.public_holidays "
        "where country = 'US' and subdivision = '' and category = 'public'"
    )
    with pipeline_engine.connect() as conn:
        before = conn.execute(count).one()
    assert dg.materialize([public_holidays], resources={"database": FluxDatabase()}).success
    with pipeline_engine.connect() as conn:
        after = conn.execute(count).one()
    assert after == before
    assert before[0] == before[1] > 100
    assert before[2].year == 2015 and before[3].year == dt.date.today().year + 2


def _observed(engine: sa.Engine, tenant_id: uuid.UUID) -> dict[dt.date, Decimal | None]:
    return {day: row.value for day, row in _features(engine, tenant_id).items()}


def test_a_tenant_run_rebuilds_its_tenants_and_no_other(
    built: Built, pipeline_engine: sa.Engine, api_engine: sa.Engine
) -> None:
    """A run over some tenants passes them to dbt: their rows are replaced, the others' kept."""
    first_days = _days(dt.date(2025, 1, 1), dt.date(2025, 1, 10), set())
    with pipeline_engine.begin() as conn:
        first = _insert_tenant(conn, "US", first_days)
        second = _insert_tenant(conn, "GB", _days(dt.date(2025, 2, 1), dt.date(2025, 2, 5), set()))
    us_before = _observed(pipeline_engine, built.us_tenant)
    started = time.time()

    def tenant_run(start: uuid.UUID, end: uuid.UUID) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [flux_dbt_models],
            resources=features_resources(),
            instance=instance,
            tags=TenantBatch(str(start), str(end)).tags(),
        )

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANTS, [str(first), str(second)])
        assert tenant_run(first, first).success
        assert _observed(pipeline_engine, first) == first_days
        assert _observed(pipeline_engine, second) == {}  # not in the run: not built
        # The first tenant corrects a day and withdraws its last one; both tenants run.
        with pipeline_engine.begin() as conn:
            conn.execute(
                sa.update(staged_sales)
                .where(
                    staged_sales.c.tenant_id == first, staged_sales.c.date == dt.date(2025, 1, 2)
                )
                .values(value=Decimal("1.50"))
            )
            conn.execute(
                sa.delete(staged_sales).where(
                    staged_sales.c.tenant_id == first, staged_sales.c.date == dt.date(2025, 1, 10)
                )
            )
        assert tenant_run(first, second).success
        runs = [r.run_id for r in instance.get_runs()]
    # A successful build leaves no target folder behind (5 MB each, 100 runs a night), only its
    # parse state for the next build to start from.
    assert not [d for d in TARGET.iterdir() for run in runs if d.name.startswith(folder(run))]
    assert (TARGET / "partial_parse.msgpack").stat().st_mtime > started
    corrected = {**first_days, dt.date(2025, 1, 2): Decimal("1.50")}
    del corrected[dt.date(2025, 1, 10)]
    assert _observed(pipeline_engine, first) == corrected
    assert len(_observed(pipeline_engine, second)) == 5
    assert _observed(pipeline_engine, built.us_tenant) == us_before
    # The tables kept their policies through the incremental builds.
    with api_engine.begin() as conn:
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(second), True)))
        seen = sa.text("select distinct tenant_id from analytics.features_daily")
        assert conn.execute(seen).scalars().all() == [second]


def test_a_partition_key_that_is_not_a_tenant_id_never_reaches_the_sql(
    built: Built, pipeline_engine: sa.Engine
) -> None:
    """Partition keys can be added by hand in the UI: dbt refuses anything but a UUID."""
    forged = f"{built.us_tenant}'::uuid) or (true"
    before = _observed(pipeline_engine, built.gb_tenant)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANTS, [forged])
        result = dg.materialize(
            [flux_dbt_models],
            resources=features_resources(),
            instance=instance,
            tags=TenantBatch(forged, forged).tags(),
            raise_on_error=False,
        )
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "not a tenant id" in str(failure.event_specific_data)
    # A failed build's target folder is kept, for whoever debugs it.
    [kept] = [d for d in TARGET.iterdir() if d.name.startswith(folder(result.run_id))]
    assert (kept / "dbt.log").exists()
    shutil.rmtree(kept)
    assert _observed(pipeline_engine, built.gb_tenant) == before


def test_the_dbt_docs_site_documents_every_mart_column_and_its_lineage(
    built: Built, settings: FluxSettings, tmp_path: Path
) -> None:
    site = generate_docs(settings.model_copy(update={"home": tmp_path}))
    assert (site / "index.html").stat().st_size > 0
    catalog = json.loads((site / "catalog.json").read_text())
    manifest = json.loads((site / "manifest.json").read_text())
    node = "model.flux.features_daily"
    # The catalog is the live table: every column the contract names, with its type.
    live = {name.lower(): c["type"] for name, c in catalog["nodes"][node]["columns"].items()}
    assert [name for name, _ in FEATURES_CONTRACT] == list(live)
    # Every column has a description an analyst can read, and the lineage reaches the source.
    described = manifest["nodes"][node]["columns"]
    assert set(described) == set(live)
    assert all(column["description"].strip() for column in described.values())
    ancestors: set[str] = set()
    frontier = [node]
    while frontier:
        parents = manifest["parent_map"][frontier.pop()]
        frontier.extend(p for p in parents if p not in ancestors)
        ancestors.update(parents)
    assert any(a.startswith("source.flux.") for a in ancestors), ancestors


VIEW_SWAP_LOCK = 1181312585  # macros/tenant_scope.sql: one_view_swap_at_a_time


def test_two_builds_at_once_swap_the_staging_views_one_at_a_time(
    built: Built, pipeline_engine: sa.Engine, settings: FluxSettings
) -> None:
    """Every tenant run re-creates the staging views through ``<view>__dbt_backup``, and two
    runs at once collided on it. A build waits for the view-swap lock: held here, the build
    waits on it (seen in pg_locks) and finishes once it is released."""
    with pipeline_engine.begin() as conn:
        tenant = _insert_tenant(conn, "US", _days(dt.date(2025, 3, 1), dt.date(2025, 3, 5), set()))
    holder = get_engine("owner", settings).connect()
    holder.execute(sa.select(sa.func.pg_advisory_lock(VIEW_SWAP_LOCK)))
    outcome: dict[str, Any] = {}

    def build() -> None:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(TENANTS, [str(tenant)])
            outcome["result"] = dg.materialize(
                [flux_dbt_models],
                resources=features_resources(),
                instance=instance,
                tags=TenantBatch(str(tenant), str(tenant)).tags(),
            )

    worker = threading.Thread(target=build)
    worker.start()
    try:
        _wait_for_advisory_lock(pipeline_engine, VIEW_SWAP_LOCK, worker)
    finally:
        holder.execute(sa.select(sa.func.pg_advisory_unlock(VIEW_SWAP_LOCK)))
        holder.close()
    worker.join(timeout=300)
    assert outcome["result"].success
    assert len(_observed(pipeline_engine, tenant)) == 5


def test_two_runs_at_once_rewrite_the_holiday_calendar_one_after_the_other(
    built: Built, pipeline_engine: sa.Engine, settings: FluxSettings
) -> None:
    """Two runs rewriting the calendar at once both deleted it, then both inserted the same
    days, and the second failed on the key: a rewrite waits for the other's lock."""
    holder = get_engine("owner", settings).connect()
    holder.execute(sa.select(sa.func.pg_advisory_lock(CALENDAR_WRITE_LOCK)))
    outcome: dict[str, Any] = {}

    def rewrite() -> None:
        with dg.instance_for_test() as instance:
            outcome["result"] = dg.materialize(
                [public_holidays], resources={"database": FluxDatabase()}, instance=instance
            )

    worker = threading.Thread(target=rewrite)
    worker.start()
    try:
        _wait_for_advisory_lock(pipeline_engine, CALENDAR_WRITE_LOCK & 0xFFFFFFFF, worker)
    finally:
        holder.execute(sa.select(sa.func.pg_advisory_unlock(CALENDAR_WRITE_LOCK)))
        holder.close()
    worker.join(timeout=120)
    assert outcome["result"].success


def _wait_for_advisory_lock(engine: sa.Engine, objid: int, worker: threading.Thread) -> None:
    """Until a backend waits for the advisory lock whose low 32 bits are ``objid``."""
    waiting = sa.text(
        "select count(*) from pg_locks where locktype = 'advisory' and not granted "
        "and objid = :lock"
    )
    deadline = time.monotonic() + 120
    with engine.connect() as conn:
        while not conn.execute(waiting, {"lock": objid}).scalar():
            assert time.monotonic() < deadline, "nothing waited for the lock"
            assert worker.is_alive(), "the work ended without taking the lock"
            time.sleep(0.2)
