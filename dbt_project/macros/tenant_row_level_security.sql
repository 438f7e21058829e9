{#
  Tenant data in analytics gets the same protection as in `flux`: RLS enabled AND forced (the
  owner, flux_pipeline, is subject to it too), so flux_api sees only the tenant set in
  app.tenant_id and nothing when none is set. Run as a post-hook because dbt recreates the table
  on every run, and a new table carries no policies.
#}
{% macro tenant_row_level_security(relation, analysts=false) -%}
    {%- set tenant_predicate -%}
        tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
    {%- endset -%}
    alter table {{ relation }} enable row level security;
    alter table {{ relation }} force row level security;
    drop policy if exists tenant_isolation on {{ relation }};
    create policy tenant_isolation on {{ relation }} to flux_api
        using ({{ tenant_predicate }}) with check ({{ tenant_predicate }});
    drop policy if exists pipeline_all on {{ relation }};
    create policy pipeline_all on {{ relation }} to flux_pipeline using (true) with check (true);
    {%- if analysts %}
    drop policy if exists analyst_read on {{ relation }};
    create policy analyst_read on {{ relation }} for select to flux_analyst using (true);
    grant usage on schema {{ relation.schema }} to flux_analyst, flux_api;
    {%- endif %}
{%- endmacro %}
