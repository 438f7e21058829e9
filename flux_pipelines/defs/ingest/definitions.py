"""The ingest area: the staged uploads' assets and their checks."""

import dagster as dg

from flux_pipelines.defs.ingest.assets import staged_bookings, staged_item_sales, staged_sales
from flux_pipelines.defs.ingest.checks import (
    freshness,
    rejection_rate,
    row_counts,
    uploads_settled,
)

defs = dg.Definitions(
    assets=[staged_sales, staged_item_sales, staged_bookings],
    asset_checks=[rejection_rate, freshness, row_counts, uploads_settled],
)
