-- What a restaurant knows of its coming days beyond its sales, as the models read it: bookings
-- (covers booked for a visit day, by the day they were made) and the days it told Flux about.
-- A closure's booked_on is null: it holds from whenever it was entered.

with

bookings as (

    select
        tenant_id,
        'booking'::text as kind,
        visit_date as date,
        booked_on,
        covers
    from {{ ref('stg_uploads__bookings') }}
    where {{ rebuilt_tenants() }}

),

told as (

    select
        tenant_id,
        kind,
        date,
        null::date as booked_on,
        null::numeric as covers
    from {{ ref('stg_flux__calendar_days') }}
    where {{ rebuilt_tenants() }}

)

select * from bookings
union all
select * from told
