-- The training contract: one row per tenant, metric and day with calendar, holiday, lag and
-- rolling features. fct_daily_demand is gap-filled (one row per day), so a lag of N rows is the
-- value N days earlier; the rolling means use a RANGE frame over dates and stop the day before,
-- so a day never sees its own value.

with

demand as (

    select * from {{ ref('fct_daily_demand') }}
    where {{ rebuilt_tenants() }}

),

features as (

    select
        tenant_id,
        metric,
        date,
        value,
        is_observed,
        country,
        subdivision,
        day_of_week,
        extract(day from date)::int as day_of_month,
        extract(month from date)::int as month,
        extract(week from date)::int as week_of_year,
        extract(doy from date)::int as day_of_year,
        is_holiday,
        holiday_name,
        is_school_holiday,
        lag(value, 7) over by_day as lag_7,
        lag(value, 14) over by_day as lag_14,
        lag(value, 28) over by_day as lag_28,
        lag(value, 364) over by_day as lag_364,
        -- avg skips NULLs: the mean of the observed days, NULL when none was observed.
        avg(value) over (
            by_day range between interval '7 days' preceding and interval '1 day' preceding
        ) as rolling_mean_7,
        avg(value) over (
            by_day range between interval '28 days' preceding and interval '1 day' preceding
        ) as rolling_mean_28

    from demand
    window by_day as (partition by tenant_id, metric order by date)

)

select * from features
