-- grain: one row per Stripe customer
-- exception: a second customer of one company: linked to the same Salesforce Account as an
-- earlier one, or unlinked with an earlier one's email domain and a name like it. Only
-- metadata links merge customers (core.customer_identities); a name match is flagged, never
-- merged.
-- discrepancy_at: the later customer's creation
{%- set free_mail = [
    'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com',
    'icloud.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.de', 'web.de',
] %}
{%- set legal_suffixes =
    'inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|ag|sa|sas|bv|nv|pty' %}
with as_of as (
    select as_of_month from {{ ref('int_as_of') }}
),

cust as (
    -- the link as identity resolution made it: metadata naming an existing Account, an id
    -- pasted in its 15-character form included
    select
        s.stripe_customer_id as id, s.created_at as created, s.customer_name as name,
        l.crm_account_id as salesforce_account_id,
        l.crm_account_id is not null as is_linked,
        s.email_domain as domain,
        trim(regexp_replace(
            trim(regexp_replace(
                regexp_replace(lower(coalesce(s.customer_name, '')), '[^a-z0-9 ]', '', 'g'),
                ' +', ' ', 'g')),
            '( ({{ legal_suffixes }}))+$', '')) as norm_name
    from {{ ref('stg_stripe__customers') }} as s
    left join {{ ref('customer_identities') }} as l
      on l.system = 'stripe' and l.source_id = s.stripe_customer_id
),

same_account as (
    select id, first_value(id) over w as original,
           row_number() over w > 1 as later
    from cust where is_linked
    window w as (partition by salesforce_account_id order by created, id)
),

look_alike as (
    select distinct on (later.id) later.id, earlier.id as original
    from cust as later
    inner join cust as earlier
      on earlier.domain = later.domain
     and (earlier.created < later.created
          or (earlier.created = later.created and earlier.id < later.id))
    where not later.is_linked
      and later.domain is not null and later.domain <> ''
      and later.domain not in ('{{ free_mail | join("', '") }}')
      and {{ recon_name_similarity('later.norm_name', 'earlier.norm_name') }}
          >= {{ recon_param('name_similarity') }}
    order by later.id, earlier.created, earlier.id
),

mrr as (
    select m.customer_id, m.mrr_reporting
    from {{ ref('mrr_monthly') }} as m
    inner join as_of as a on m.month = a.as_of_month
),

found as (
    select id, original, 'linked to the same Salesforce Account as' as why
    from same_account where later
    union all
    select id, original, 'unlinked, with the email domain and a name like' as why
    from look_alike
)

select
    c.id as record_id,
    i.customer_id,
    k.entity,
    '{{ var("reporting_currency") }}' as currency,
    coalesce(m.mrr_reporting, 0) * 12 as amount,
    f.id is not null as is_exception,
    'Stripe customer ' || c.id || ' (' || coalesce(c.name, '?') || ') is ' || f.why
        || ' the earlier customer ' || f.original
        || ': merge them in Stripe or link them deliberately' as detail,
    c.created as discrepancy_at
from cust as c
left join found as f on f.id = c.id
left join {{ ref('customer_identities') }} as i
  on i.system = 'stripe' and i.source_id = c.id
left join {{ ref('customers') }} as k on k.customer_id = i.customer_id
left join mrr as m on m.customer_id = i.customer_id
