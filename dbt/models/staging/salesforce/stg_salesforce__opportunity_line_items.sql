with source as (
    select * from {{ source('raw_salesforce', 'opportunity_line_item') }}
),

final as (
    select
        Id as opportunity_line_item_id,
        OpportunityId as opportunity_id,
        Product2Id as product2_id,
        cast(Quantity as decimal(18, 4)) as quantity,
        UnitPrice as unit_price,
        TotalPrice as total_price,
        ServiceDate as service_date,
        SystemModstamp as system_modstamp_at
    from source
)

select * from final
