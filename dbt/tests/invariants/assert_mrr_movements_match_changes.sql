{{ config(
    meta={
        'dagster': {'ref': {'name': 'mrr_monthly'}},
        'description': 'Invariant 2: every MRR change has exactly one movement, with its sign.',
    },
) }}
-- Invariant 2 (docs/revenue-metrics.md, "Invariants"): every change of MRR has exactly one
-- movement, with the sign of the movement table: new and reactivation start from 0
-- (reactivation only after an earlier active month), churn ends at 0, expansion and contraction
-- move an active customer up and down, none changes nothing (in the customer's currency; FX is
-- never a movement).
with mrr_monthly as (
    select * from {{ ref('mrr_monthly') }}
),

final as (
    select *
    from mrr_monthly
    where
        -- starts from zero: new the first time, reactivation afterwards
        (movement in ('new', 'reactivation') and (not is_active or was_active_previous_month))
        or (movement = 'new' and not is_first_active_month)
        or (movement = 'reactivation' and is_first_active_month)
        or (is_active and not was_active_previous_month and movement not in ('new', 'reactivation'))
        -- ends at zero
        or (movement = 'churn' and (is_active or not was_active_previous_month))
        or (was_active_previous_month and not is_active and movement <> 'churn')
        -- moves an active customer
        or (movement in ('expansion', 'contraction') and not (is_active and was_active_previous_month))
        -- signs of the reporting amounts
        or (movement in ('new', 'reactivation', 'expansion') and movement_reporting < 0)
        or (movement in ('contraction', 'churn') and movement_reporting > 0)
        or (movement = 'none' and movement_reporting <> 0)
        -- in one currency the movement follows the local change exactly
        or (currency <> 'MULTI' and mrr > previous_mrr and movement not in ('new', 'reactivation', 'expansion'))
        or (currency <> 'MULTI' and mrr < previous_mrr and movement not in ('contraction', 'churn'))
        or (currency <> 'MULTI' and mrr = previous_mrr and movement <> 'none')
)

select * from final
