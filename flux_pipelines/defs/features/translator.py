"""How dbt's nodes appear in the asset graph: a model's key is its name, in the group ``features``.

Sources keep the key their ``meta.dagster.asset_key`` gives (``staged_sales``, ``public_holidays``:
assets written by Python), or ``flux/<table>`` for tables no asset writes (``flux.tenants``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

FEATURES_GROUP = "features"


class FluxDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return FEATURES_GROUP
