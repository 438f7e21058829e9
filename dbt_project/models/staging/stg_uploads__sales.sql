with

source as (

    select * from {{ source('flux', 'staged_sales') }}

),

renamed as (

    select
        tenant_id::uuid as tenant_id,
        metric::text as metric,
        date::date as date,
        value::numeric as value,
        upload_id::uuid as upload_id,
        loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed
