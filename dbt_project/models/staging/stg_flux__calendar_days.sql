with

source as (

    select * from {{ source('flux', 'calendar_days') }}

),

renamed as (

    select
        tenant_id::uuid as tenant_id,
        date::date as date,
        kind::text as kind,
        note::text as note

    from source

)

select * from renamed
