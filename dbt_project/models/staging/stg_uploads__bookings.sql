with

source as (

    select * from {{ source('flux', 'staged_bookings') }}

),

renamed as (

    select
        tenant_id::uuid as tenant_id,
        visit_date::date as visit_date,
        booked_on::date as booked_on,
        covers::numeric as covers,
        bookings::integer as bookings,
        upload_id::uuid as upload_id,
        loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed
