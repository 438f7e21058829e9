"""The batch protocol: a run's tags say the same batch back, and what is not a batch is None."""

from __future__ import annotations

import datetime as dt

from dagster._core.storage.tags import PARTITION_NAME_TAG

from flux_pipelines.defs.batches import TenantBatch, batches, nightly_batches

KEYS = [f"t{i:02d}" for i in range(10)]


def test_every_field_survives_the_run_tags() -> None:
    night = dt.datetime(2026, 12, 3, 2, tzinfo=dt.UTC)
    batch = TenantBatch(
        "t02",
        "t05",
        "retry",
        attempt=3,
        retry_of="run-1",
        uploads=7,
        current_window=(night - dt.timedelta(hours=12), night),
    )
    assert TenantBatch.from_tags(batch.tags()) == batch
    assert batch.tenants(KEYS) == ["t02", "t03", "t04", "t05"]


def test_a_single_partition_run_and_a_run_of_no_tenant() -> None:
    tags = {
        PARTITION_NAME_TAG: "t04",
        **TenantBatch("t04", "t04", "nightly").tags(with_range=False),
    }
    assert TenantBatch.from_tags(tags) == TenantBatch("t04", "t04", "nightly")
    assert TenantBatch.from_tags({"flux/trigger": "nightly"}) is None


def test_unknown_values_read_as_defaults_not_errors() -> None:
    tags = TenantBatch("t00", "t01").tags() | {"flux/trigger": "cron", "flux/attempt": "x"}
    assert TenantBatch.from_tags(tags) == TenantBatch("t00", "t01")


def test_ranges_never_cover_a_tenant_left_out() -> None:
    wanted = set(KEYS) - {"t03"}
    assert batches(KEYS, wanted, size=4) == [("t00", "t02"), ("t04", "t07"), ("t08", "t09")]
    # Scattered left-out keys: no more runs than every key would take, passing over t03.
    scattered = set(KEYS) - {"t01", "t03", "t05", "t07"}
    assert nightly_batches(KEYS, scattered, size=5) == [("t00", "t04"), ("t06", "t09")]
