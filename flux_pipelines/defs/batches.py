"""The batch protocol: which tenants a run covers, why it started, and what its assets report.

A run covers a range of the ``tenants`` partition set (up to 100 keys), in Dagster's own range
tags, which partitioned assets read. Beside them, Flux's tags say why the run exists, and each
asset's materialization says which tenants it failed, passed over or found without data. Every
key that the sensors, the schedule, the assets, the retries and the CLI agree on is here.

The range stays in tags, not run config: Dagster's partitioned assets, the UI's partition view and
the run queue all read the tags, and config would be a second copy of the same range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

# upload: the landing sensor; nightly: the schedule; retry: a retry sensor; cli: `flux run`;
# operator-retry: `flux uploads retry`.
BATCH = 100  # tenants a run covers at most: 10,000 tenants are 100 runs a night

Trigger = Literal["upload", "nightly", "retry", "cli", "operator-retry"]
TRIGGERS: tuple[str, ...] = get_args(Trigger)

TRIGGER_TAG = "flux/trigger"
ATTEMPT_TAG = "flux/attempt"  # 1 for a first run; a retry of a tenant counts up
RETRY_OF_TAG = "flux/retry_of"  # the run whose failure a retry repeats
UPLOADS_TAG = "flux/uploads"  # how many uploads an upload run loads
# The nightly's window "since/until": a tenant whose champions were all trained in it, after its
# latest upload, is current and passed over (``flux_core.training.freshness``).
CURRENT_WINDOW_TAG = "flux/current_if_trained"

# Metadata of each per-tenant asset's materialization: JSON, tenant id -> reason (failed) or list.
TENANTS_FAILED = "tenants_failed"  # read back by the retry sensors
TENANTS_CURRENT = "tenants_current"
TENANTS_WITHOUT_DATA = "tenants_without_data"
TENANTS_WITHOUT_MODEL = "tenants_without_model"


@dataclass(frozen=True)
class TenantBatch:
    """A run's tenants, from ``first`` to ``last`` in the partition set's order, and its reason."""

    first: str
    last: str
    trigger: Trigger | None = None
    attempt: int = 1
    retry_of: str | None = None
    uploads: int | None = None
    current_window: tuple[dt.datetime, dt.datetime] | None = None

    def tags(self, *, with_range: bool = True) -> dict[str, str]:
        """The run's tags. ``with_range=False`` for a request that names its one partition
        itself (``RunRequest(partition_key=...)``)."""
        tags = (
            {ASSET_PARTITION_RANGE_START_TAG: self.first, ASSET_PARTITION_RANGE_END_TAG: self.last}
            if with_range
            else {}
        )
        if self.trigger is not None:
            tags[TRIGGER_TAG] = self.trigger
        if self.attempt > 1:
            tags[ATTEMPT_TAG] = str(self.attempt)
        if self.retry_of is not None:
            tags[RETRY_OF_TAG] = self.retry_of
        if self.uploads is not None:
            tags[UPLOADS_TAG] = str(self.uploads)
        if self.current_window is not None:
            since, until = self.current_window
            tags[CURRENT_WINDOW_TAG] = f"{since.isoformat()}/{until.isoformat()}"
        return tags

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> TenantBatch | None:
        """The batch a run's tags describe; None for a run of no tenant partition."""
        if (key := tags.get(PARTITION_NAME_TAG)) is not None:
            first = last = key
        else:
            start, end = (
                tags.get(ASSET_PARTITION_RANGE_START_TAG),
                tags.get(ASSET_PARTITION_RANGE_END_TAG),
            )
            if start is None or end is None:
                return None
            first, last = start, end
        trigger = tags.get(TRIGGER_TAG)
        return cls(
            first=first,
            last=last,
            trigger=cast(Trigger, trigger) if trigger in TRIGGERS else None,
            attempt=attempt_of(tags),
            retry_of=tags.get(RETRY_OF_TAG),
            uploads=int(tags[UPLOADS_TAG]) if tags.get(UPLOADS_TAG, "").isdigit() else None,
            current_window=current_window(tags),
        )

    def tenants(self, keys: Sequence[str]) -> list[str]:
        """The batch's tenants; ``keys``: the partition set's, in order."""
        return keys_in_range(keys, self.first, self.last)


def keys_in_range(keys: Sequence[str], first: str, last: str) -> list[str]:
    """The keys from ``first`` to ``last``, both included, in the order of ``keys``."""
    keys = list(keys)
    return keys[keys.index(first) : keys.index(last) + 1]


def attempt_of(tags: Mapping[str, str]) -> int:
    try:
        return max(1, int(tags.get(ATTEMPT_TAG, "1")))
    except ValueError:
        return 1


def current_window(tags: Mapping[str, str]) -> tuple[dt.datetime, dt.datetime] | None:
    """The (since, until) a nightly run's tenants are judged current by; None outside one."""
    value = tags.get(CURRENT_WINDOW_TAG)
    if not value:
        return None
    since, until = value.split("/")
    return dt.datetime.fromisoformat(since), dt.datetime.fromisoformat(until)


def failed_tenants(metadata: Mapping[str, Any]) -> list[str]:
    """The tenants a materialization reports failed (``TENANTS_FAILED``)."""
    entry = metadata.get(TENANTS_FAILED)
    failed = getattr(entry, "value", entry) or {}
    return sorted(failed) if isinstance(failed, Mapping) else []


def batches(
    keys: Sequence[str], wanted: Collection[str] | None = None, size: int = BATCH
) -> list[tuple[str, str]]:
    """(first, last) ranges of the ``wanted`` keys (default: all), in the partition set's own
    order ``keys``: each holds up to ``size`` keys and, as a run covers every key of its range,
    no key that is not wanted."""
    ranges: list[tuple[str, str]] = []
    run: list[str] = []
    for key in keys:
        if wanted is not None and key not in wanted:
            if run:
                ranges.append((run[0], run[-1]))
            run = []
            continue
        run.append(key)
        if len(run) == size:
            ranges.append((run[0], run[-1]))
            run = []
    if run:
        ranges.append((run[0], run[-1]))
    return ranges


def nightly_batches(
    keys: Sequence[str], wanted: Collection[str], size: int = BATCH
) -> list[tuple[str, str]]:
    """Ranges over the ``wanted`` keys in no more runs than every key would take.

    Exact ranges (``batches``) when they are few enough. Tenants to leave out that lie scattered
    among the others would cut those into many small runs, each a process start; then each range
    is instead the next ``size`` keys from a wanted one, to its last wanted key, and the run's
    assets pass over the keys left out in between (``freshness.tenants_to_work_on``)."""
    exact = batches(keys, wanted, size)
    if len(exact) <= -(-len(keys) // size):
        return exact
    keys, ranges, i = list(keys), [], 0
    while i < len(keys):
        if keys[i] not in wanted:
            i += 1
            continue
        window = keys[i : i + size]
        last = max(j for j, key in enumerate(window) if key in wanted)
        ranges.append((window[0], window[last]))
        i += last + 1
    return ranges
