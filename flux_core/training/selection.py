"""Refit nightly, reselect when it matters: what each series' training does tonight.

The tournament (every candidate over rolling origins, ``batch.train_series``) is most of a night's
work, and for a restaurant whose history grew by a day its answer rarely changes. So a series
keeps its champion's kind, members and intervals (its *selection*) and has that champion refitted
on the latest data; the tournament runs again only when one of these holds:

- the series has no champion, or its champion was never backtested (too little history then);
- days it had seen changed (a correction): the digest of its history through the champion's last
  observed day differs from the one recorded with the champion;
- its live accuracy (``flux_core/forecasts/accuracy.py``: the forecasts shown, against what
  happened, since the selection) is worse than the backtest promised by more than a margin;
- its selection is a week old. Each tenant has a weekday of its own (a hash of its id), so about a
  seventh of the tenants reselect each night, and never all on one night.

A series with no new day and no reason to reselect is *kept*: nothing is trained, its forecast is
only moved on by the forecasts step. A series that is refitted registers a new MLflow version that
names the version whose selection it carries (``selection.selected_version``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

Mode = Literal["select", "refit", "keep"]
RESELECT_EVERY_DAYS = 7
# Live WAPE above the backtest's by more than this share (of the backtest's), on at least
# ``LIVE_MIN_DAYS`` days forecast since the selection, reopens the tournament.
LIVE_WAPE_MARGIN = 0.25
LIVE_MIN_DAYS = 14


def history_digest(series: pd.Series, through: pd.Timestamp) -> str:
    """A fingerprint of the series up to ``through``: changes when any of those days does."""
    part = series.loc[: pd.Timestamp(through)]
    values = np.round(part.to_numpy(dtype="float64"), 4)
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(pd.Timestamp(part.index[0]).date() if len(part) else "").encode())
    digest.update(np.nan_to_num(values, nan=-1.0).tobytes())
    return digest.hexdigest()


def reselect_weekday(tenant_id: str) -> int:
    """The tenant's own day of the week (0-6) for its weekly reselection: a hash of the id, so
    the tenants spread evenly over the week."""
    return uuid.UUID(str(tenant_id)).int % RESELECT_EVERY_DAYS


@dataclass(frozen=True)
class Champion:
    """What ``flux.model_versions`` records of a series' current champion."""

    version: int
    kind: str
    backtest: Mapping[str, Any]
    trained_at: dt.datetime

    @property
    def selection(self) -> Mapping[str, Any]:
        return self.backtest.get("selection") or {}

    @property
    def selected_version(self) -> int:
        return int(self.selection.get("selected_version") or self.version)

    @property
    def selected_on(self) -> dt.date:
        at = self.selection.get("selected_at")
        return dt.date.fromisoformat(at[:10]) if at else self.trained_at.date()

    @property
    def history(self) -> Mapping[str, Any]:
        return self.backtest.get("history") or {}

    @property
    def backtest_wape(self) -> float | None:
        value = (self.backtest.get("accuracy") or {}).get("wape")
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class LiveAccuracy:
    days: int
    wape: float | None


@dataclass(frozen=True)
class SeriesPlan:
    """One series' work tonight, and what a refit needs of its selection."""

    mode: Mode
    reason: str
    kind: str | None = None
    members: tuple[str, ...] = ()
    log_q10: float = 0.0
    log_q90: float = 0.0
    selected_version: int | None = None
    selected_at: str | None = None
    backtest: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "reason": self.reason,
            "kind": self.kind,
            "members": list(self.members),
            "log_q10": self.log_q10,
            "log_q90": self.log_q90,
            "selected_version": self.selected_version,
            "selected_at": self.selected_at,
            "backtest": dict(self.backtest),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SeriesPlan:
        return cls(
            mode=raw["mode"],
            reason=raw.get("reason", ""),
            kind=raw.get("kind"),
            members=tuple(raw.get("members") or ()),
            log_q10=float(raw.get("log_q10") or 0.0),
            log_q90=float(raw.get("log_q90") or 0.0),
            selected_version=raw.get("selected_version"),
            selected_at=raw.get("selected_at"),
            backtest=raw.get("backtest") or {},
        )


def _select(reason: str) -> SeriesPlan:
    return SeriesPlan("select", reason)


def plan_series(
    tenant_id: str,
    series: pd.Series,
    champion: Champion | None,
    live: LiveAccuracy | None,
    today: dt.date,
) -> SeriesPlan:
    """Tonight's work for one series (module docstring), with the reason."""
    if champion is None:
        return _select("no champion")
    history = champion.history
    through, recorded = history.get("through"), history.get("digest")
    if not through or not recorded or "members" not in champion.backtest:
        return _select("champion from before refits were recorded")
    observed = series.dropna()
    if observed.empty:
        return _select("no observed day")
    last = pd.Timestamp(observed.index.max())
    seen_through = pd.Timestamp(through)
    if last < seen_through or history_digest(series, seen_through) != recorded:
        return _select(f"history through {seen_through.date()} changed")
    if last == seen_through:
        return SeriesPlan("keep", "no new day")
    if not champion.backtest.get("windows"):
        return _select("champion not backtested yet")
    promised = champion.backtest_wape
    if (
        live is not None
        and promised is not None
        and live.wape is not None
        and live.days >= LIVE_MIN_DAYS
        and live.wape > promised * (1 + LIVE_WAPE_MARGIN)
    ):
        return _select(
            f"live WAPE {live.wape:.3f} over {live.days} days against {promised:.3f} backtested"
        )
    age = (today - champion.selected_on).days
    if age >= RESELECT_EVERY_DAYS:
        return _select(f"selection {age} days old")
    if age >= 1 and today.toordinal() % RESELECT_EVERY_DAYS == reselect_weekday(tenant_id):
        return _select("weekly reselection")
    return refit_plan(
        champion.kind,
        champion.backtest,
        champion.selected_version,
        champion.selection.get("selected_at") or champion.trained_at.isoformat(),
    )


def refit_plan(
    kind: str,
    backtest: Mapping[str, Any],
    selected_version: int,
    selected_at: str | None,
    reason: str = "new days",
) -> SeriesPlan:
    """A refit of the champion of ``kind`` that ``backtest`` selected: its members and its
    P10/P90 log errors kept."""
    score = (backtest.get("candidates") or {}).get(kind) or {}
    return SeriesPlan(
        "refit",
        reason,
        kind=kind,
        members=tuple(backtest.get("members") or ()),
        log_q10=float(score.get("log_q10", 0.0)),
        log_q90=float(score.get("log_q90", 0.0)),
        selected_version=selected_version,
        selected_at=selected_at,
        backtest=backtest,
    )
