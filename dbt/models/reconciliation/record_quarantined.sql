-- grain: one row per record the loader ever quarantined (its latest quarantine)
-- exception: it is still held back (no version of it has loaded since); one per record, of
-- any system (record_system says which). An invoice or a payment (Stripe invoice, charge,
-- invoice payment; NetSuite CustInvc, CustPymt) is high severity whatever its amount.
-- discrepancy_at: the exported_at of the load that first quarantined it
with quarantined as (
    select * from {{ ref('stg_meta__quarantined_records') }}
),

netsuite_currencies as (
    select currency_id, currency from {{ ref('stg_netsuite__currencies') }}
),

identities as (
    select system, source_id, customer_id from {{ ref('customer_identities') }}
)

select
    q.system as record_system,
    q.record_id,
    i.customer_id,
    c.entity,
    coalesce(q.payload_currency, n.currency) as currency,
    q.amount,
    {{ recon_quarantine_held('q') }} as is_exception,
    coalesce(q.first_exported_at, q.first_quarantined_at) as discrepancy_at,
    case
        when q.system = 'stripe' and q.object in ('invoices', 'charges', 'invoice_payments')
            then 'high'
        when q.system = 'netsuite' and q.record_kind in ('CustInvc', 'CustPymt') then 'high'
    end as severity,
    q.file_name || ' line ' || cast(q.line as {{ dbt.type_string() }})
        || case when q.has_record_id then ' (' || q.record_id || ')' else '' end
        || ': ' || q.rule || '; correct the record in the export and run again' as detail
from quarantined as q
left join netsuite_currencies as n
  on q.system = 'netsuite'
 and cast(n.currency_id as {{ dbt.type_string() }}) = q.netsuite_currency_id
left join identities as i on i.system = q.system and i.source_id = q.customer_source_id
left join {{ ref('customers') }} as c on c.customer_id = i.customer_id
