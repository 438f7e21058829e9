"""The landing-zone sensor: new uploads become tenant partitions and runs.

Uploads received through the API or the CLI are registered in ``flux.uploads`` at once; the
sensor also pages through the landing zone (one page per tick, with a cursor that wraps around) to
register files that arrived without a row, e.g. dropped straight into the bucket.

Tenants with pending uploads are batched: a run covers up to ``batches.BATCH`` of them, contiguous in the
partition set's order (a run's partitions are a range, and a range must hold no tenant without
uploads, which the run would retrain for nothing). So a morning when 10,000 restaurants upload
starts about 100 runs, not 10,000 process starts. Tenants that a queued or running run already
covers wait for it; the run key names the uploads, so a repeated tick never starts a second load.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from uuid import UUID

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_core.db.tables import tenants, uploads
from flux_core.ingest.loader import SETTLED
from flux_core.landing import LandingZone, LandingZoneUnavailable, parse_upload_key
from flux_pipelines.defs.batches import TenantBatch, batches, keys_in_range
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import TENANTS, tenants_in_flight, tenants_partitions

# Keys listed per tick: one LIST request on S3 (MaxKeys), however large the bucket.
PAGE = 1000


def register_landed_files(conn: sa.Connection, keys: list[str]) -> int:
    """Give files found in the landing zone an uploads row (those of unknown tenants are left alone)."""
    parsed = [(key, *ids) for key in keys if (ids := parse_upload_key(key))]
    if not parsed:
        return 0
    known: set[UUID] = set(
        conn.execute(
            sa.select(tenants.c.tenant_id).where(tenants.c.tenant_id.in_({t for _, t, _ in parsed}))
        ).scalars()
    )
    rows = [
        {
            "upload_id": upload_id,
            "tenant_id": tenant_id,
            "object_key": key,
            "filename": key.rsplit("/", 1)[-1],
        }
        for key, tenant_id, upload_id in parsed
        if tenant_id in known
    ]
    if not rows:
        return 0
    result = conn.execute(
        pg_insert(uploads).values(rows).on_conflict_do_nothing().returning(uploads.c.upload_id)
    )
    return len(result.all())


@dataclass(frozen=True)
class LandingScan:
    keys: list[str]
    registered: int
    next_after: str | None  # where the next tick's page starts; None: from the top again


def scan_landing_zone(
    engine: sa.Engine, zone: LandingZone, after: str | None, page_size: int = PAGE
) -> LandingScan:
    """One page of the landing zone from ``after``: its files get uploads rows if they lack one.

    A short page is the end of the listing, so the next tick starts again from the top; a whole
    pass over a large bucket is spread over many ticks, never done in one.
    """
    keys = zone.list_keys("uploads/", after, page_size)
    with engine.begin() as conn:
        registered = register_landed_files(conn, keys)
    return LandingScan(keys, registered, keys[-1] if len(keys) == page_size else None)


def pending_by_tenant(conn: sa.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        sa.select(uploads.c.tenant_id, uploads.c.upload_id)
        .where(uploads.c.status.not_in(SETTLED))
        .order_by(uploads.c.tenant_id, uploads.c.upload_id)
    )
    pending: dict[str, list[str]] = {}
    for tenant_id, upload_id in rows:
        pending.setdefault(str(tenant_id), []).append(str(upload_id))
    return pending


def upload_run_requests(
    pending: dict[str, list[str]], order: list[str], busy: set[str]
) -> list[dg.RunRequest]:
    """A run for each batch of tenants with pending uploads and no unfinished run; ``order``:
    the partition set's keys, new tenants included."""
    waiting = {tenant: ids for tenant, ids in pending.items() if tenant not in busy}
    requests = []
    for first, last in batches(order, waiting):
        ids = [u for tenant in keys_in_range(order, first, last) for u in waiting[tenant]]
        requests.append(
            dg.RunRequest(
                run_key=f"uploads-{hashlib.sha256(','.join(ids).encode()).hexdigest()[:24]}",
                tags=TenantBatch(first, last, "upload", uploads=len(ids)).tags(),
            )
        )
    return requests


def build_landing_sensor(
    job: dg.UnresolvedAssetJobDefinition, page_size: int = PAGE
) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_zone_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Registers new uploads, adds their tenants to the `tenants` partitions, "
        "requests a run per batch of tenants with uploads.",
    )
    def landing_zone_sensor(
        context: dg.SensorEvaluationContext, database: FluxDatabase, landing: LandingZoneResource
    ) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        engine = database.engine()
        try:
            scan = scan_landing_zone(engine, landing.zone(), cursor.get("after"), page_size)
        except LandingZoneUnavailable as error:
            # Registered uploads still get their runs; this page of stray files waits for the
            # next tick, from the same place.
            context.log.warning(f"landing zone not listed this tick: {error}")
            scan = LandingScan([], 0, cursor.get("after"))
        with engine.connect() as conn:
            pending = pending_by_tenant(conn)
        known = list(context.instance.get_dynamic_partitions(TENANTS))
        # New partitions are appended to the set in this order, before the runs are created.
        new_tenants = sorted(set(pending) - set(known))
        requests = upload_run_requests(
            pending, known + new_tenants, tenants_in_flight(context.instance, job.name, known)
        )
        if scan.registered:
            context.log.info(f"registered {scan.registered} file(s) found in the landing zone")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[tenants_partitions.build_add_request(new_tenants)]
            if new_tenants
            else [],
            cursor=json.dumps({"after": scan.next_after}),
        )

    return landing_zone_sensor
