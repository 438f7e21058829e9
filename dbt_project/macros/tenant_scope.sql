{#
  A Dagster run for some tenants passes their ids in the environment variable FLUX_DBT_TENANTS, a
  JSON list (`FLUX_DBT_TENANTS='["<id>", ...]' dbt build`). The incremental models then replace
  those tenants' rows only, and the data tests read those rows only: a run costs what its tenants
  hold, not what every tenant holds. Unset or empty (a full build, or `--full-refresh`), every
  tenant is rebuilt and tested. An environment variable rather than a `--vars`: dbt parses the
  whole project again whenever its vars change (8-10 s a run), and every run has other tenants.
#}

{% macro scoped_tenants() -%}
    {%- set listed = env_var('FLUX_DBT_TENANTS', '') -%}
    {%- if not listed -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set tenants = fromjson(listed) -%}
    {%- if tenants is none or tenants is string or tenants is mapping or tenants is not iterable -%}
        {{ exceptions.raise_compiler_error("FLUX_DBT_TENANTS: a JSON list of tenant ids, not " ~ listed) }}
    {%- endif -%}
    {%- for tenant in tenants -%}
        {#- Ids go into SQL text: anything but a UUID is refused, never quoted. -#}
        {%- if not modules.re.fullmatch('[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}', tenant | string) -%}
            {{ exceptions.raise_compiler_error("FLUX_DBT_TENANTS: not a tenant id: " ~ tenant) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(tenants) }}
{%- endmacro %}


{# A predicate on `column`: true for the scoped tenants' rows (every row when unscoped). #}
{% macro in_tenant_scope(column='tenant_id') -%}
    {%- set tenants = scoped_tenants() -%}
    {%- if tenants is none -%}
        true
    {%- elif tenants | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for tenant in tenants %}'{{ tenant }}'::uuid{{ ", " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}


{# The rows an incremental build rewrites: the scoped tenants', or all of them when the table is built afresh. #}
{% macro rebuilt_tenants(column='tenant_id') -%}
    {%- if is_incremental() -%}
        {{ in_tenant_scope(column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#
  Pre-hook of the incremental models, in the model's transaction: the rebuilt tenants' rows go,
  then the model appends them anew. The lock lets one build at a time write the table (two runs
  may hold the same tenant) while readers (training, the API) go on reading.
#}
{% macro delete_rebuilt_tenants(relation) -%}
    {%- if is_incremental() -%}
        lock table {{ relation }} in share row exclusive mode;
        delete from {{ relation }} where {{ in_tenant_scope() }}
    {%- endif -%}
{%- endmacro %}


{#
  dbt's hook for a data test's `where` config, overridden: a test of a relation with a tenant_id
  column reads the scoped tenants' rows only. Other `where` configs apply as in dbt.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if execute and scoped_tenants() is not none and relation.identifier is not none -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- if 'tenant_id' in columns -%}
            {%- set where = '(' ~ in_tenant_scope() ~ ')' ~ (' and (' ~ where ~ ')' if where else '') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}


{#
  Post-hook: a table rebuilt from scratch has no planner statistics until autovacuum comes by;
  meanwhile a tenant run's delete and tests scanned all 7.3 million rows (10,000 tenants) instead
  of using the key: 40 s instead of 11.
#}
{% macro analyze_after_full_refresh(relation) -%}
    {%- if should_full_refresh() and config.get('materialized') == 'incremental' -%}
        analyze {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#
  Pre-hook of the staging views, in the view's transaction. Every tenant run re-creates them, and
  dbt swaps a view in through `<name>__dbt_backup`: two runs at once (two upload runs, the
  default) collided on it ("relation ... __dbt_backup already exists", 2 of 10 runs of a
  benchmark's night). One swap at a time: the lock is held to the transaction's end, a few ms.
#}
{% macro one_view_swap_at_a_time() -%}
    select pg_advisory_xact_lock(1181312585)
{%- endmacro %}
