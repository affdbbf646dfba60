"""A subscription billed at another currency or list ARR than its contract sold."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="contract_billing_mismatch",
    title="Billing differs from the contract",
    compares=("salesforce", "stripe"),
    record_system="salesforce",
    owner="revops",
    params={"relative_tolerance": 0.01, "absolute_tolerance": 1.00},
    sql="""
    with cb as (select * from core.contract_billing),
    judged as (
        select
            *,
            contract_currency <> billing_currency as currency_differs,
            abs(billed_arr - contracted_arr) > greatest(
                {relative_tolerance} * contracted_arr, {absolute_tolerance}
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
            || format('{{}} {{:,.2f}}', j.contract_currency, j.contracted_arr)
            || ' ARR but Stripe subscription ' || j.subscription_id || ' bills '
            || format('{{}} {{:,.2f}}', j.billing_currency, j.billed_arr)
            || ' list ARR' || case when j.currency_differs then ' (another currency)' else '' end
            as detail
    from judged j
    left join core.customers c on c.customer_id = j.customer_id
    """,
)
