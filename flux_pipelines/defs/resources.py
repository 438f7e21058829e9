"""Resources shared by every stage: the database (one engine per role) and the landing zone."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from flux_core.db.connections import get_engine
from flux_core.landing import LandingZone, landing_zone
from flux_core.settings import FluxSettings, Role, get_settings


class FluxDatabase(dg.ConfigurableResource):
    """PostgreSQL as the pipeline role (which RLS lets see every tenant), configured from FLUX_*."""

    role: str = "pipeline"

    def engine(self) -> sa.Engine:
        role: Role = self.role  # type: ignore[assignment]
        return get_engine(role, get_settings())

    @property
    def settings(self) -> FluxSettings:
        return get_settings()


class LandingZoneResource(dg.ConfigurableResource):
    def zone(self) -> LandingZone:
        return landing_zone(get_settings())
