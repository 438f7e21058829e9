import dagster as dg

from flux_pipelines.defs.ingest.assets import staged_sales

defs = dg.Definitions(assets=[staged_sales])
