-- One row per tenant, metric and day, from the series' first to its last day with data. A day
-- without data is a row with a NULL value (unknown, never zero) and is_observed false, so that
-- lags and rolling windows downstream can count days by rows.
--
-- Each observed day is followed by the missing days up to the next observed one: one pass in the
-- staging key's order. Joining every calendar day back to the sales instead made PostgreSQL merge
-- on (tenant, metric) alone and filter the dates afterwards: days x days comparisons per series,
-- 12 s for 100 two-year series where this takes half a second.

with

sales as (

    select * from {{ ref('stg_uploads__sales') }}
    where {{ rebuilt_tenants() }}

),

observed as (

    select
        tenant_id,
        metric,
        date,
        value,
        lead(date) over (partition by tenant_id, metric order by date) as next_date

    from sales

),

filled as (

    select
        observed.tenant_id,
        observed.metric,
        day::date as date,
        case when day::date = observed.date then observed.value end as value,
        day::date = observed.date as is_observed

    from observed
    cross join lateral generate_series(
        observed.date::timestamp,
        coalesce(observed.next_date - 1, observed.date)::timestamp,
        interval '1 day'
    ) as day

)

select * from filled
