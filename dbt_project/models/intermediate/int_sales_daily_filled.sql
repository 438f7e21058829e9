-- One row per tenant, metric and day, from the series' first to its last day with data. A day
-- without data is a row with a NULL value (unknown, never zero) and is_observed false, so that
-- lags and rolling windows downstream can count days by rows.

with

sales as (

    select * from {{ ref('stg_uploads__sales') }}

),

series_bounds as (

    select
        tenant_id,
        metric,
        min(date) as first_date,
        max(date) as last_date

    from sales
    group by tenant_id, metric

),

every_day as (

    select
        series_bounds.tenant_id,
        series_bounds.metric,
        day::date as date

    from series_bounds
    cross join lateral generate_series(
        series_bounds.first_date::timestamp,
        series_bounds.last_date::timestamp,
        interval '1 day'
    ) as day

),

filled as (

    select
        every_day.tenant_id,
        every_day.metric,
        every_day.date,
        sales.value,
        sales.date is not null as is_observed

    from every_day
    left join sales
        on sales.tenant_id = every_day.tenant_id
        and sales.metric = every_day.metric
        and sales.date = every_day.date

)

select * from filled
