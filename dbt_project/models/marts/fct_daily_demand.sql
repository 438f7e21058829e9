with

daily as (

    select * from {{ ref('int_sales_daily_filled') }}
    where {{ rebuilt_tenants() }}

),

tenants as (

    select * from {{ ref('stg_flux__tenants') }}

),

holidays as (

    select * from {{ ref('stg_flux__public_holidays') }}

),

final as (

    select
        daily.tenant_id,
        daily.metric,
        daily.date,
        daily.value,
        daily.is_observed,
        tenants.country,
        tenants.subdivision,
        extract(isodow from daily.date)::int as day_of_week,
        holidays.holiday_name is not null as is_holiday,
        holidays.holiday_name,
        school.holiday_name is not null as is_school_holiday

    from daily
    inner join tenants
        on tenants.tenant_id = daily.tenant_id
    -- The tenant's region's calendar (national days included), the country's when it has none.
    left join holidays
        on holidays.country = tenants.country
        and holidays.subdivision = coalesce(tenants.subdivision, '')
        and holidays.category = 'public'
        and holidays.date = daily.date
    left join holidays as school
        on school.country = tenants.country
        and school.subdivision = coalesce(tenants.subdivision, '')
        and school.category = 'school'
        and school.date = daily.date

)

select * from final
