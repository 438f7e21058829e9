"""The tenant partition set every per-restaurant asset shares: one partition per tenant id."""

import dagster as dg

TENANTS = "tenants"
tenants_partitions = dg.DynamicPartitionsDefinition(name=TENANTS)
