"""Fixtures the API tests share: a pytest plugin (``tests/conftest.py``), so every test module
has them without importing them. Import the types and helpers from ``api_fixtures``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_api.security import create_access_token
from flux_core.db.tables import (
    calendar_days,
    forecast_adjustments,
    forecasts,
    model_versions,
    rejected_rows,
    staged_sales,
    uploads,
    users,
)
from flux_core.landing import upload_key
from flux_core.settings import FluxSettings
from flux_core.users import UserRole, hash_password

PASSWORD = "correct horse battery staple"
START = date(2025, 3, 1)
DAYS = 7


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: UserRole
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeMember = Callable[..., Member]


@pytest.fixture(scope="module")
def client(settings: FluxSettings) -> Iterator[TestClient]:
    """The app with the test settings, started once per module."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def make_member(pipeline_engine: sa.Engine, settings: FluxSettings) -> MakeMember:
    """A user of ``tenant_id`` with ``PASSWORD`` and a fresh token."""

    def _make(tenant_id: uuid.UUID, role: UserRole = "owner") -> Member:
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
        with pipeline_engine.begin() as conn:
            user_id: uuid.UUID = conn.execute(
                sa.insert(users)
                .values(
                    tenant_id=tenant_id,
                    email=email,
                    password_hash=hash_password(PASSWORD),
                    role=role,
                )
                .returning(users.c.user_id)
            ).scalar_one()
        token = create_access_token(user_id, tenant_id, role, settings)
        return Member(user_id, tenant_id, email, role, token)

    return _make


@dataclass(frozen=True)
class SeededTenant:
    tenant_id: uuid.UUID
    upload_id: uuid.UUID
    owner: Member
    base: float  # every value of this tenant lies in [base, base + 1000): easy to tell apart
    day_id: uuid.UUID  # a closure it told, the day after the forecast's last
    adjusted: date  # the forecast's last day, for which it set a sales number of its own

    def markers(self) -> list[str]:
        """Strings that only this tenant's data contains."""
        return [
            str(self.tenant_id),
            str(self.upload_id),
            str(self.owner.user_id),
            self.owner.email,
            f"bad-{self.base:.0f}",
            f"sales-{self.base:.0f}.csv",
            f"{self.base:.0f}",
            str(self.day_id),
            f"closed-{self.base:.0f}",
            f"reason-{self.base:.0f}",
        ]


def seed_tenant(
    engine: sa.Engine, tenant_id: uuid.UUID, owner: Member, base: float
) -> SeededTenant:
    """An upload with a rejected row, a week of sales, a champion model and a week of forecast."""
    upload_id = uuid.uuid4()
    days = [START + timedelta(days=i) for i in range(DAYS)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(uploads).values(
                upload_id=upload_id,
                tenant_id=tenant_id,
                object_key=upload_key(tenant_id, upload_id),
                filename=f"sales-{base:.0f}.csv",
                status="loaded",
                rows_total=DAYS + 1,
                rows_loaded=DAYS,
                rows_rejected=1,
            )
        )
        conn.execute(
            sa.insert(rejected_rows).values(
                tenant_id=tenant_id,
                upload_id=upload_id,
                line_number=9,
                column_name="sales",
                value=f"bad-{base:.0f}",
                reason="not a number",
            )
        )
        conn.execute(
            sa.insert(staged_sales),
            [
                {"tenant_id": tenant_id, "metric": "sales", "date": d, "value": base + i}
                | {"upload_id": upload_id}
                for i, d in enumerate(days)
            ],
        )
        conn.execute(
            sa.insert(model_versions).values(
                tenant_id=tenant_id,
                metric="sales",
                version=int(base),
                model_name=f"flux-{tenant_id}-sales",
                model_kind="xgboost",
                is_champion=True,
                wape=0.1,
                baseline_wape=0.2,
            )
        )
        # The forecast overlaps the last three days of actuals (a backtest-style chart) and runs on.
        conn.execute(
            sa.insert(forecasts),
            [
                {
                    "tenant_id": tenant_id,
                    "metric": "sales",
                    "date": START + timedelta(days=DAYS - 3 + i),
                    "p10": base + i,
                    "p50": base + i + 1,
                    "p90": base + i + 2,
                    "model_version": int(base),
                }
                for i in range(DAYS)
            ],
        )
        adjusted = START + timedelta(days=2 * DAYS - 4)  # the forecast's last day
        day_id = conn.execute(
            sa.insert(calendar_days)
            .values(
                tenant_id=tenant_id,
                date=adjusted + timedelta(days=1),
                kind="closed",
                note=f"closed-{base:.0f}",
            )
            .returning(calendar_days.c.day_id)
        ).scalar_one()
        conn.execute(
            sa.insert(forecast_adjustments).values(
                tenant_id=tenant_id,
                metric="sales",
                date=adjusted,
                value=base + 500,
                model_p50=base + 1,
                reason=f"reason-{base:.0f}",
                set_by=owner.user_id,
            )
        )
    return SeededTenant(tenant_id, upload_id, owner, base, day_id, adjusted)


def operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation the app serves, from its OpenAPI document (no route is hidden from it)."""
    return {
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    }


def assert_problem(response: httpx.Response, status: int, title: str, detail: str) -> None:
    """``response`` is exactly this problem document (RFC 9457), and says so in its type."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
