"""Ingestion end to end (parse, validate, load), against PostgreSQL's COPY and pandas' to_sql.

Three measurements, each beside its peers in the same run, in a database of its own
(``flux_bench_ingest`` on the project's cluster, made fresh and migrated):

1. A 1,000,000-line line-item export (London-takeaway layout, day-first timestamps): Flux's
   ``load_upload`` (parse, pandera validation, aggregation per day and per item, COPY + merge into
   ``flux.staged_sales`` and ``flux.staged_item_sales``) in lines per second; beside it ``COPY`` of
   the same lines already clean (ISO dates, plain numbers) into a table of their shape (the limit:
   the raw lines have no home in our schema, their aggregates do), and ``pandas.read_csv`` +
   ``DataFrame.to_sql`` of the file into that table (what a user would write).
2. 10,000 tenants' daily files (``date,sales,covers``, 365 days each): Flux's loader over every
   upload in lines per second; ``COPY`` of the clean long rows into a twin of ``flux.staged_sales``
   (COPY refuses a table under row-level security: same columns, key, checks, indexes and
   upload check), and into the twin without the upload check;
   ``to_sql`` per file (read, melt, append) as a user would loop over files (on a sample of files,
   its rate extrapolated), into ``flux.staged_sales`` and into the twin without the upload check
   (to_sql inserts row by row, so the per-statement check runs for every row: the twin is its
   best case, and the ratio goal is judged against it). Flux's loader is ``load_uploads``, as
   the ``staged_sales`` asset calls it (batches of 100 uploads, one transaction each, three at a
   time). The Dagster asset path
   (``staged_sales`` over a 100-tenant partition range, as the backfill policy batches it, with
   runs and events in PostgreSQL as ``dagster.yaml`` keeps them, and the run's partition events
   written in one statement as in every run of the code location) is timed on a sample too: there
   Dagster's per-run and per-partition overhead dominates.
3. The dbt models over 10,000 tenants with two years of days each (7.3 million rows, written by
   SQL): a tenant run's build (100 tenants: the incremental models replace those tenants' rows and
   test them) beside the rebuild of every tenant (``--full-refresh``), which every upload run did
   before the models were incremental; both through the Dagster asset.
4. Peak memory (max RSS of a child process) of ``load_upload`` on a 1 GB line-item file, sorted by
   date and in random date order.

Files are generated deterministically under ``.flux/bench/ingest/`` (kept between runs).
Environment: ``FLUX_BENCH_PARTS`` (items,daily,dbt,memory), ``FLUX_BENCH_REPEATS`` (3),
``FLUX_BENCH_TENANTS`` (10000), ``FLUX_BENCH_DBT_TENANTS`` (10000), ``FLUX_BENCH_DBT_FULL_REPEATS``
(1: each takes minutes), ``FLUX_BENCH_GB`` (1.0).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from bench.scratch import scratch_settings
from flux_core.db.connections import (
    get_engine,
    owner_url,
    plain_url,
    role_url,
    service_database,
)
from flux_core.db.tables import staged_sales, tenants, uploads
from flux_core.ingest.loader import load_upload, load_uploads
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings, get_settings

DATABASE = "flux_bench_ingest"
REPEATS = int(os.environ.get("FLUX_BENCH_REPEATS", "3"))
TENANTS = int(os.environ.get("FLUX_BENCH_TENANTS", "10000"))
BIG_GB = float(os.environ.get("FLUX_BENCH_GB", "1.0"))
LINES = 1_000_000
DBT_TENANTS = int(os.environ.get("FLUX_BENCH_DBT_TENANTS", "10000"))
DBT_DAYS = 730
DBT_FULL_REPEATS = int(os.environ.get("FLUX_BENCH_DBT_FULL_REPEATS", "1"))  # minutes each
DAILY_DAYS = 365
TO_SQL_SAMPLE = 500  # daily files loaded with to_sql one by one; the rate is what is compared
DAGSTER_SAMPLE = 100  # one run of the asset, as the backfill policy batches tenants
TODAY = dt.date(2026, 1, 1)
FIRST_DAY = dt.date(2023, 1, 1)
ITEMS = 240
HEADER = "Order Number,Order Date,Item Name,Quantity,Product Price,Total products\n"

LINES_TABLE = sa.Table(
    "line_items",
    sa.MetaData(schema="bench"),
    sa.Column("order_id", sa.BigInteger),
    sa.Column("date", sa.Date),
    sa.Column("item", sa.Text),
    sa.Column("quantity", sa.Integer),
    sa.Column("price", sa.Numeric(10, 2)),
)


def _root() -> Path:
    root = get_settings().home / "bench" / "ingest"
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- data ------------------------------------------------------------------------------------


def _line_item_frame(
    lines: int, seed: int, shuffled: bool, first_day: dt.date = FIRST_DAY, span: int = 3 * 365
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, span, lines))
    if shuffled:
        days = rng.permutation(days)
    item = rng.integers(0, ITEMS, lines)
    prices = np.round(rng.integers(150, 2400, ITEMS) / 100, 2)
    minutes = rng.integers(11 * 60, 23 * 60, lines)
    stamp = (
        pd.to_datetime(first_day)
        + pd.to_timedelta(days, unit="D")
        + pd.to_timedelta(minutes, unit="m")
    )
    return pd.DataFrame(
        {
            "order_id": np.cumsum(rng.random(lines) < 0.35) + 1,
            "stamp": stamp,
            "item": np.array([f"Menu item {i:03d}" for i in range(ITEMS)])[item],
            "quantity": rng.integers(1, 4, lines),
            "price": prices[item],
        }
    )


def _write_export(frame: pd.DataFrame, path: Path, mode: str = "w") -> None:
    export = pd.DataFrame(
        {
            "Order Number": frame["order_id"],
            "Order Date": frame["stamp"].dt.strftime("%d/%m/%Y %H:%M"),
            "Item Name": frame["item"],
            "Quantity": frame["quantity"],
            "Product Price": frame["price"].map("{:.2f}".format),
            "Total products": 1,
        }
    )
    export.to_csv(path, index=False, header=mode == "w", mode=mode, lineterminator="\r\n")


def _line_item_files(root: Path) -> tuple[Path, Path]:
    """The export as a restaurant sends it, and the same lines clean (what COPY is given)."""
    export, clean = root / "line_items_1m.csv", root / "line_items_1m_clean.csv"
    if not export.exists() or not clean.exists():
        frame = _line_item_frame(LINES, seed=3, shuffled=False)
        _write_export(frame, export)
        pd.DataFrame(
            {
                "order_id": frame["order_id"],
                "date": frame["stamp"].dt.strftime("%Y-%m-%d"),
                "item": frame["item"],
                "quantity": frame["quantity"],
                "price": frame["price"].map("{:.2f}".format),
            }
        ).to_csv(clean, index=False, header=False)
    return export, clean


def _big_file(root: Path, shuffled: bool) -> Path:
    """About BIG_GB of line items, written in pieces so the generator itself stays small."""
    path = root / f"line_items_{BIG_GB:g}gb_{'random' if shuffled else 'sorted'}.csv"
    target = int(BIG_GB * 1024**3)
    if path.exists() and path.stat().st_size >= target * 0.98:
        return path
    piece, seed, span = 1_000_000, 100, 30
    with path.open("w", newline="") as out:
        out.write(HEADER.replace("\n", "\r\n"))
    while path.stat().st_size < target:
        if shuffled:
            frame = _line_item_frame(piece, seed=seed, shuffled=True)
        else:
            # Each piece is the next month: the whole file is in date order.
            start = FIRST_DAY + dt.timedelta(days=span * (seed - 100))
            frame = _line_item_frame(piece, seed=seed, shuffled=False, first_day=start, span=span)
        _write_export(frame, path, mode="a")
        seed += 1
    return path


def _daily_files(root: Path, count: int) -> list[Path]:
    folder = root / f"daily_{DAILY_DAYS}"
    folder.mkdir(exist_ok=True)
    dates = pd.date_range(FIRST_DAY, periods=DAILY_DAYS).strftime("%Y-%m-%d").to_numpy()
    paths = []
    for i in range(count):
        path = folder / f"tenant_{i:05d}.csv"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        sales = np.round(rng.gamma(8, 150, DAILY_DAYS), 2)
        covers = rng.poisson(60, DAILY_DAYS)
        body = "date,sales,covers\n" + "".join(
            f"{d},{s:.2f},{c}\n" for d, s, c in zip(dates, sales, covers, strict=True)
        )
        path.write_text(body)
    return paths


# --- database --------------------------------------------------------------------------------


def _bench_settings() -> FluxSettings:
    landing = _root() / "landing"
    # The database is new: the previous run's landed copies (gigabytes) belong to nothing now.
    shutil.rmtree(landing, ignore_errors=True)
    os.environ["FLUX_LANDING_URL"] = landing.resolve().as_uri()
    settings = scratch_settings(DATABASE)
    url = plain_url(owner_url(settings))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema bench authorization flux_owner")
        conn.execute("grant usage, create on schema bench to flux_pipeline")
        # COPY cannot write into a table under row-level security (PostgreSQL refuses it: the
        # loader COPYs into a temporary table, then INSERT ... SELECT). The limit is COPY into a
        # twin of staged_sales (same columns, key, checks, indexes, and its check that every row
        # names its upload: the statement triggers of migration 0007) without RLS.
        conn.execute(
            "create table bench.staged_sales (like flux.staged_sales including all); "
            "create trigger upload_exists after insert on bench.staged_sales "
            "referencing new table as staged for each statement "
            "execute function flux.staged_sales_uploads_exist(); "
            "alter table bench.staged_sales owner to flux_pipeline; "
            # and without that check: COPY's rate with nothing but the table itself.
            "create table bench.staged_sales_bare (like flux.staged_sales including all); "
            "alter table bench.staged_sales_bare owner to flux_pipeline"
        )
    LINES_TABLE.create(get_engine("pipeline", settings))
    return settings


def _new_tenants(engine: sa.Engine, count: int) -> list[uuid.UUID]:
    ids = sorted(uuid.uuid4() for _ in range(count))
    with engine.begin() as conn:
        conn.execute(sa.insert(tenants), [{"tenant_id": t, "name": f"b-{t.hex[:8]}"} for t in ids])
    return ids


def _receive(engine: sa.Engine, settings: FluxSettings, tenant: uuid.UUID, path: Path) -> uuid.UUID:
    with engine.begin() as conn, path.open("rb") as stream:
        return receive_upload(conn, landing_zone(settings), tenant, path.name, stream).upload_id


def _truncate(engine: sa.Engine, *tables: sa.Table) -> None:
    with engine.begin() as conn:
        for table in tables:
            conn.execute(sa.delete(table))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("vacuum"))


def _copy_file(engine: sa.Engine, table: str, columns: str, path: Path) -> None:
    raw = engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,  # type: ignore[attr-defined]
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy,
            path.open("rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        raw.commit()
    finally:
        raw.close()


def _timed(action: Callable[[], object], reset: Callable[[], object] | None = None) -> float:
    if reset is not None:
        reset()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


def _report(name: str, rows: int, seconds: list[float]) -> float:
    rate = rows / _median(seconds)
    spread = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  {name:<44} {rate:>12,.0f} rows/s   median {_median(seconds):8.2f} s  ({spread})")
    return rate


# --- 1. one million line items ---------------------------------------------------------------


def bench_line_items(settings: FluxSettings, engine: sa.Engine) -> None:
    export, clean = _line_item_files(_root())
    print(
        f"\n1,000,000-line line-item export ({export.stat().st_size / 1e6:.0f} MB), {REPEATS} runs"
    )
    zone = landing_zone(settings)

    def flux_once() -> float:
        tenant = _new_tenants(engine, 1)[0]
        upload_id = _receive(engine, settings, tenant, export)
        started = time.perf_counter()
        outcome = load_upload(engine, zone, upload_id, today=TODAY)
        elapsed = time.perf_counter() - started
        assert outcome.status == "loaded" and outcome.rows_loaded == LINES, outcome
        return elapsed

    flux = [flux_once() for _ in range(REPEATS)]
    reset = lambda: _truncate(engine, LINES_TABLE)  # noqa: E731
    copy = [
        _timed(
            lambda: _copy_file(
                engine, "bench.line_items", "order_id, date, item, quantity, price", clean
            ),
            reset,
        )
        for _ in range(REPEATS)
    ]

    def to_sql() -> None:
        frame = pd.read_csv(export)
        frame = pd.DataFrame(
            {
                "order_id": frame["Order Number"],
                "date": pd.to_datetime(frame["Order Date"], format="%d/%m/%Y %H:%M").dt.date,
                "item": frame["Item Name"],
                "quantity": frame["Quantity"],
                "price": frame["Product Price"],
            }
        )
        frame.to_sql("line_items", engine, schema="bench", if_exists="append", index=False)

    pandas_runs = [_timed(to_sql, reset) for _ in range(max(1, REPEATS))]
    flux_rate = _report("flux load_upload (parse, validate, load)", LINES, flux)
    copy_rate = _report("COPY of the clean lines (the limit)", LINES, copy)
    pandas_rate = _report("pandas read_csv + to_sql", LINES, pandas_runs)
    print(
        f"  flux / COPY = {flux_rate / copy_rate:.2f} (goal >= 0.5); "
        f"flux / to_sql = {flux_rate / pandas_rate:.1f}x (goal >= 5x)"
    )


# --- 2. ten thousand tenants' daily files ----------------------------------------------------


def _long_rows(paths: list[Path], ids: list[uuid.UUID], uploads_: list[uuid.UUID]) -> Path:
    """The daily files as clean long rows of staged_sales, for COPY."""
    target = _root() / f"daily_long_{len(paths)}.csv"
    with target.open("w") as out:
        for path, tenant, upload_id in zip(paths, ids, uploads_, strict=True):
            frame = pd.read_csv(path)
            long = frame.melt(id_vars=["date"], var_name="metric", value_name="value")
            long.insert(0, "tenant_id", str(tenant))
            long["upload_id"] = str(upload_id)
            long.to_csv(out, index=False, header=False)
    return target


def bench_daily(settings: FluxSettings, engine: sa.Engine) -> None:
    paths = _daily_files(_root(), TENANTS)
    lines = len(paths) * DAILY_DAYS
    print(f"\n{len(paths):,} tenants' daily files ({DAILY_DAYS} lines each, {lines:,} lines)")
    zone = landing_zone(settings)
    ids = _new_tenants(engine, len(paths))
    started = time.perf_counter()
    received = [_receive(engine, settings, t, p) for t, p in zip(ids, paths, strict=True)]
    print(f"  (received {len(received):,} uploads in {time.perf_counter() - started:.0f} s)")

    long = _long_rows(paths, ids, received)

    def copy_into(name: str) -> list[float]:
        table = sa.Table(name, sa.MetaData(schema="bench"), autoload_with=engine)
        columns = "tenant_id, date, metric, value, upload_id"
        return [
            _timed(
                lambda: _copy_file(engine, f"bench.{name}", columns, long),
                lambda: _truncate(engine, table),
            )
            for _ in range(REPEATS)
        ]

    copy, copy_bare = copy_into("staged_sales"), copy_into("staged_sales_bare")
    reset = lambda: _truncate(engine, staged_sales)  # noqa: E731

    sample = list(zip(paths, ids, received, strict=True))[:TO_SQL_SAMPLE]

    def to_sql(schema: str, name: str) -> None:
        for path, tenant, upload_id in sample:
            frame = pd.read_csv(path, parse_dates=["date"])
            long = frame.melt(id_vars=["date"], var_name="metric", value_name="value")
            long.insert(0, "tenant_id", tenant)
            long["upload_id"] = upload_id
            long.to_sql(
                name,
                engine,
                schema=schema,
                if_exists="append",
                index=False,
                dtype={"tenant_id": UUID(as_uuid=True), "upload_id": UUID(as_uuid=True)},
            )

    # to_sql sends one INSERT per row, so staged_sales' per-statement upload check runs per row:
    # the peer is also timed into the twin without it, its best case, and Flux is held to that.
    bare = sa.Table("staged_sales_bare", sa.MetaData(schema="bench"), autoload_with=engine)
    pandas_runs = [_timed(lambda: to_sql("flux", "staged_sales"), reset) for _ in range(REPEATS)]
    pandas_bare_runs = [
        _timed(lambda: to_sql("bench", "staged_sales_bare"), lambda: _truncate(engine, bare))
        for _ in range(REPEATS)
    ]
    reset()

    # Flux's loader over every upload, once, as the asset calls it (load_uploads: batches, one
    # transaction each); the sample first through the Dagster asset, as a run of the backfill
    # policy's batch would.
    dagster_ids = ids[:DAGSTER_SAMPLE]
    dagster_seconds = _dagster_run(dagster_ids)
    started = time.perf_counter()
    for outcome in load_uploads(engine, zone, received[DAGSTER_SAMPLE:], today=TODAY):
        assert outcome.status == "loaded" and outcome.rows_loaded == DAILY_DAYS, outcome
    loader_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        staged = conn.execute(sa.select(sa.func.count()).select_from(staged_sales)).scalar_one()
        loaded = conn.execute(
            sa.select(sa.func.count()).where(uploads.c.status == "loaded")
        ).scalar_one()
    assert staged == 2 * lines, (staged, lines)

    loader_rate = _report(
        f"flux load_uploads, {len(received) - DAGSTER_SAMPLE:,} uploads (1 run)",
        (len(received) - DAGSTER_SAMPLE) * DAILY_DAYS,
        [loader_seconds],
    )
    dagster_rate = _report(
        f"flux staged_sales asset, {DAGSTER_SAMPLE} tenants (1 run)",
        DAGSTER_SAMPLE * DAILY_DAYS,
        [dagster_seconds],
    )
    copy_rate = _report("COPY of the clean long rows (staged_sales' twin)", lines, copy)
    bare_rate = _report("COPY, the twin without its upload check", lines, copy_bare)
    # to_sql writes 2 long rows per line; rates are of the files' lines throughout.
    pandas_rate = _report(
        f"pandas to_sql per file, {len(sample)} files", len(sample) * DAILY_DAYS, pandas_runs
    )
    pandas_bare_rate = _report(
        "pandas to_sql, into the twin without the check",
        len(sample) * DAILY_DAYS,
        pandas_bare_runs,
    )
    print(
        f"  (COPY wrote {2 * lines:,} long rows; {loaded:,} uploads loaded; "
        f"{1000 * loader_seconds / (len(received) - DAGSTER_SAMPLE):.1f} ms per upload by the "
        f"loader, {1000 * dagster_seconds / DAGSTER_SAMPLE:.1f} ms through the asset)"
    )
    print(
        f"  loader / COPY = {loader_rate / copy_rate:.3f} (goal >= 0.5); "
        f"loader / to_sql = {loader_rate / pandas_bare_rate:.1f}x (goal >= 5x; "
        f"{loader_rate / pandas_rate:.1f}x into staged_sales itself); "
        f"asset / to_sql = {dagster_rate / pandas_bare_rate:.1f}x; "
        f"loader / COPY without the upload check = {loader_rate / bare_rate:.3f}"
    )


@contextmanager
def _bench_instance(keys: list[str]) -> Iterator[Any]:
    """A Dagster instance with runs and events in PostgreSQL, through the storage dagster.yaml
    configures (a test instance's SQLite event log spent 27 ms on each of a run's 211 events);
    the run's partition events written in one statement as in every run of the code location;
    ``keys`` as its tenant partitions."""
    import dagster as dg

    from flux_pipelines.defs.batches import BATCH
    from flux_pipelines.defs.tenants import TENANTS as PARTITIONS
    from flux_pipelines.instance import batch_partition_events

    storage = role_url(
        get_settings(),
        "pipeline",
        database=service_database(get_settings(), "dagster"),
        driver="psycopg2",
    )
    overrides = {
        "storage": {
            "custom": {
                "module": "flux_pipelines.instance",
                "class": "PooledPostgresStorage",
                "config": {"postgres_url": storage.render_as_string(hide_password=False)},
            }
        }
    }
    batch_partition_events(BATCH)
    with dg.instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions(PARTITIONS, keys)
        yield instance


def _dagster_run(tenant_ids: list[uuid.UUID]) -> float:
    import dagster as dg

    from flux_pipelines.defs.batches import TenantBatch
    from flux_pipelines.defs.ingest.assets import staged_sales as asset
    from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource

    job = dg.define_asset_job("bench_ingest", selection=[asset])
    defs = dg.Definitions(
        assets=[asset],
        jobs=[job],
        resources={"database": FluxDatabase(), "landing": LandingZoneResource()},
    )
    keys = [str(t) for t in tenant_ids]
    with _bench_instance(keys) as instance:
        started = time.perf_counter()
        result = defs.resolve_job_def("bench_ingest").execute_in_process(
            instance=instance, tags=TenantBatch(keys[0], keys[-1]).tags()
        )
        elapsed = time.perf_counter() - started
    assert result.success
    return elapsed


# --- 3. the dbt models over 10,000 tenants -------------------------------------------------------


def _two_year_histories(engine: sa.Engine, count: int) -> list[str]:
    """``count`` tenants with an upload of ``DBT_DAYS`` days of sales each, written by SQL: this
    part measures dbt, not the loader."""
    ids = _new_tenants(engine, count)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(uploads),
            [
                {
                    "upload_id": t,  # one upload per tenant: its id will do
                    "tenant_id": t,
                    "object_key": f"uploads/tenant={t}/{t}.csv",
                    "filename": "daily.csv",
                    "status": "loaded",
                }
                for t in ids
            ],
        )
        conn.execute(
            sa.text(
                "insert into flux.staged_sales (tenant_id, metric, date, value, upload_id) "
                "select t.tenant_id, 'sales', :first + d, "
                "round((100 + 40 * sin(d) + (abs(hashtext(t.tenant_id::text)) % 50))::numeric, 2), "
                "t.tenant_id "
                "from flux.tenants t cross join generate_series(0, :days - 1) d "
                "where t.tenant_id = any(:ids)"
            ),
            {"first": TODAY - dt.timedelta(days=DBT_DAYS), "days": DBT_DAYS, "ids": ids},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("analyze"))
    return [str(t) for t in ids]


def bench_dbt(settings: FluxSettings, engine: sa.Engine) -> None:
    import dagster as dg

    from flux_pipelines.defs.batches import BATCH, TenantBatch, batches
    from flux_pipelines.defs.features.assets import flux_dbt_models
    from flux_pipelines.defs.features.definitions import resources
    from flux_pipelines.runner import QUIET

    _truncate(engine, staged_sales)
    keys = _two_year_histories(engine, DBT_TENANTS)
    print(
        f"\ndbt build of the models over {len(keys):,} tenants with {DBT_DAYS} days each "
        f"({len(keys) * DBT_DAYS:,} rows), through the Dagster asset"
    )

    def build(tags: dict[str, str]) -> float:
        started = time.perf_counter()
        result = dg.materialize(
            [flux_dbt_models], resources=resources(), instance=instance, tags=tags, run_config=QUIET
        )
        assert result.success
        return time.perf_counter() - started

    with _bench_instance(keys) as instance:
        # Outside a tenant run: every tenant rebuilt (--full-refresh), as every upload run's
        # dbt build did before the models were incremental.
        full = [build({}) for _ in range(DBT_FULL_REPEATS)]
        # A tenant run of BATCH tenants; a different batch each time, spread over the key space.
        ranges = batches(keys, size=BATCH)
        picks = [ranges[i * len(ranges) // REPEATS] for i in range(REPEATS)]
        scoped = [build(TenantBatch(first, last).tags()) for first, last in picks]
    runs = -(-len(keys) // BATCH)
    full_s, scoped_s = _median(full), _median(scoped)
    print(
        f"  every tenant (--full-refresh)         median {full_s:8.1f} s  "
        f"({', '.join(f'{s:.1f}' for s in full)})"
    )
    print(
        f"  a tenant run of {BATCH} (incremental)      median {scoped_s:8.1f} s  "
        f"({', '.join(f'{s:.1f}' for s in scoped)})"
    )
    print(
        f"  a tenant run / a full rebuild = {scoped_s / full_s:.3f}; the first night's {runs} upload "
        f"runs spend {runs * scoped_s / 60:.0f} min in dbt ({runs * full_s / 3600:.1f} h when each "
        "run rebuilt every tenant)"
    )


# --- 4. peak memory on a 1 GB file -----------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import datetime as dt, resource, sys, time, uuid
    from flux_core.db.connections import get_engine
    from flux_core.ingest.loader import load_upload
    from flux_core.landing import landing_zone
    from flux_core.settings import get_settings
    settings = get_settings()
    started = time.perf_counter()
    outcome = load_upload(get_engine("pipeline", settings), landing_zone(settings),
                          uuid.UUID(sys.argv[1]), today=dt.date(2026, 1, 1))
    print(outcome.status, outcome.rows_total, outcome.rows_loaded, outcome.error or "",
          round(time.perf_counter() - started, 1), sep="|")
    """
)


def bench_memory(settings: FluxSettings, engine: sa.Engine) -> None:
    print(f"\nPeak memory of load_upload on a {BIG_GB:g} GB line-item file (child process max RSS)")
    for shuffled in (False, True):
        path = _big_file(_root(), shuffled)
        tenant = _new_tenants(engine, 1)[0]
        upload_id = _receive(engine, settings, tenant, path)
        peak_mb, outcome = _peak_in_own_child(upload_id)
        status, total, loaded, error, seconds = outcome.split("|")
        order = "random date order" if shuffled else "sorted by date"
        print(
            f"  {path.stat().st_size / 1024**3:.2f} GiB, {int(total):,} lines, {order}: "
            f"peak {peak_mb:,.0f} MiB (goal < 1024), {status} {int(loaded):,} lines in {seconds} s"
            + (f" ({error})" if error else "")
        )


def _peak_in_own_child(upload_id: uuid.UUID) -> tuple[float, str]:
    """Each measurement in a fresh grandchild, so RUSAGE_CHILDREN is that process's alone."""
    wrapper = textwrap.dedent(
        f"""
        import resource, subprocess, sys
        out = subprocess.run([sys.executable, "-c", {_CHILD!r}, {str(upload_id)!r}],
                             capture_output=True, text=True, check=True).stdout.strip()
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, out, sep="#")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    maxrss, outcome = done.stdout.strip().split("#", 1)
    return int(maxrss) / 1024, outcome


def main() -> None:
    settings = _bench_settings()
    engine = get_engine("pipeline", settings)
    print(f"database {DATABASE}; files under {_root()}")
    parts = os.environ.get("FLUX_BENCH_PARTS", "items,daily,dbt,memory").split(",")
    if "items" in parts:
        bench_line_items(settings, engine)
    if "daily" in parts:
        bench_daily(settings, engine)
    if "dbt" in parts:
        bench_dbt(settings, engine)
    if "memory" in parts:
        bench_memory(settings, engine)


if __name__ == "__main__":
    main()
