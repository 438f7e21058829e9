with

source as (

    select * from {{ source('flux', 'tenants') }}

),

renamed as (

    select
        tenant_id::uuid as tenant_id,
        name::text as tenant_name,
        country::text as country,
        subdivision::text as subdivision,
        created_at::timestamptz as created_at

    from source

)

select * from renamed
