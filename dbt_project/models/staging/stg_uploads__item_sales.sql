with

source as (

    select * from {{ source('flux', 'staged_item_sales') }}

),

-- One row per item and day, out of each day's arrays (unnest walks them in step).
unnested as (

    select
        source.tenant_id::uuid as tenant_id,
        source.date::date as date,
        sold.item::text as item,
        sold.quantity::numeric as quantity,
        sold.revenue::numeric as revenue,
        source.upload_id::uuid as upload_id,
        source.loaded_at::timestamptz as loaded_at

    from source
    cross join lateral unnest(source.items, source.quantities, source.revenues)
        as sold (item, quantity, revenue)

)

select * from unnested
