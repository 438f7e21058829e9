with

source as (

    select * from {{ source('flux', 'public_holidays') }}

),

renamed as (

    select
        country::text as country,
        subdivision::text as subdivision,
        category::text as category,
        date::date as date,
        name::text as holiday_name

    from source

)

select * from renamed
