-- grain: one row per contract (opportunity) and the subscription billing it
-- exception: billed in another currency, or list ARR off by more than the tolerance
-- discrepancy_at: the subscription's start (billing has differed since)
with cb as (
    select * from {{ ref('contract_billing') }}
),

judged as (
    select
        *,
        contract_currency <> billing_currency as currency_differs,
        abs(billed_arr - contracted_arr) > greatest(
            {{ recon_param('relative_tolerance') }} * contracted_arr,
            {{ recon_param('absolute_tolerance') }}
        ) as arr_differs
    from cb
)

select
    j.opportunity_id as record_id,
    j.customer_id,
    c.entity,
    j.contract_currency as currency,
    case when j.currency_differs then j.contracted_arr
         else abs(j.billed_arr - j.contracted_arr) end as amount,
    j.currency_differs or j.arr_differs as is_exception,
    'Salesforce opportunity ' || j.opportunity_id || ' sold '
        || {{ recon_money('j.contract_currency', 'j.contracted_arr') }}
        || ' ARR but Stripe subscription ' || j.subscription_id || ' bills '
        || {{ recon_money('j.billing_currency', 'j.billed_arr') }}
        || ' list ARR' || case when j.currency_differs then ' (another currency)' else '' end
        as detail,
    s.started_at as discrepancy_at
from judged as j
left join {{ ref('customers') }} as c on c.customer_id = j.customer_id
left join {{ ref('subscriptions') }} as s on s.subscription_id = j.subscription_id
