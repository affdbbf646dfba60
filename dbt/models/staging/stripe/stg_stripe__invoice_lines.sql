with source as (
    select * from {{ source('raw_stripe', 'invoice_lines') }}
),

amounts as (
    select
        *,
        -- Σ discount_amounts[].amount and Σ taxes[].amount (minor units)
        cast(coalesce(
            list_sum(cast(json_extract(discount_amounts, '$[*].amount') as {{ dbt.type_bigint() }}[])),
            0
        ) as {{ dbt.type_bigint() }}) as discount_amount_minor,
        cast(coalesce(
            list_sum(cast(json_extract(taxes, '$[*].amount') as {{ dbt.type_bigint() }}[])), 0
        ) as {{ dbt.type_bigint() }}) as tax_amount_minor
    from source
),

final as (
    select
        id as invoice_line_id,
        invoice_id,
        position,
        upper(currency) as currency,
        description,
        quantity,
        amount as amount_minor,
        discount_amount_minor,
        tax_amount_minor,
        {{ minor_to_major('amount', 'currency') }} as amount,
        {{ minor_to_major('discount_amount_minor', 'currency') }} as discount_amount,
        {{ minor_to_major('tax_amount_minor', 'currency') }} as tax_amount,
        cast(
            cast(unit_amount_decimal as decimal(38, 12)) * {{ major_per_minor('currency') }}
            as decimal(18, 6)
        ) as unit_amount,
        price_id,
        product_id,
        -- lines of API versions before 2025-03-31 say what they bill in `type`, not
        -- parent.type; a proration was then an 'invoiceitem' naming its subscription item,
        -- which today's API files under the subscription item
        coalesce(
            parent_type,
            case
                when legacy_type = 'subscription' then 'subscription_item_details'
                when legacy_type = 'invoiceitem' and subscription_item_id is not null
                    then 'subscription_item_details'
                when legacy_type = 'invoiceitem' then 'invoice_item_details'
            end
        ) as parent_type,
        coalesce(proration, false) as is_proration,
        subscription_id,
        subscription_item_id,
        period_start as period_start_at,
        period_end as period_end_at
    from amounts
)

select * from final
