with

source as (

    select * from {{ source('flux', 'public_holidays') }}

),

renamed as (

    select
        country::text as country,
        date::date as date,
        name::text as holiday_name

    from source

)

select * from renamed
