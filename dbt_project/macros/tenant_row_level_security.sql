{#
  Tenant data in analytics gets the same protection as in `flux`: RLS enabled AND forced (the
  owner, flux_pipeline, is subject to it too), so flux_api sees only the tenant set in
  app.tenant_id and nothing when none is set. Run as a post-hook, in the model's transaction,
  because a table dbt creates (a first build, a full refresh) carries no policies.

  A table that already has them (an incremental build) is left alone: ALTER TABLE and CREATE
  POLICY take an exclusive lock, which would queue the API's reads behind a long training read.
#}
{% macro tenant_row_level_security(relation, analysts=false) -%}
    {%- set policies = ['pipeline_all', 'tenant_isolation'] + (['analyst_read'] if analysts else []) -%}
    {%- if execute and row_level_security_in_place(relation, policies) -%}
        {{ return('') }}
    {%- endif -%}
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


{# Whether `relation` has RLS enabled and forced, and exactly the named policies. #}
{% macro row_level_security_in_place(relation, policies) -%}
    {%- set query -%}
        select c.relrowsecurity and c.relforcerowsecurity
            and coalesce(array_agg(p.polname::text order by p.polname::text)
                filter (where p.polname is not null), '{}')
                = array[{% for name in policies | sort %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}]::text[]
        from pg_class c
        left join pg_policy p on p.polrelid = c.oid
        where c.oid = to_regclass('{{ relation.include(database=false) }}')
        group by c.oid, c.relrowsecurity, c.relforcerowsecurity
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {{ return(result.rows | length == 1 and result.rows[0][0]) }}
{%- endmacro %}
