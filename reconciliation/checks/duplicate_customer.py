"""A second Stripe customer for one company: the same Account, or a look-alike unlinked one.

Only metadata links merge customers; a name match is flagged, never merged.
"""

from reconciliation.catalog import Check

FREE_MAIL = (
    "'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com', "
    "'icloud.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.de', 'web.de'"
)
LEGAL_SUFFIXES = (
    "inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|ag|sa|sas|bv|nv|pty"
)

CHECK = Check(
    check_id="duplicate_customer",
    title="Duplicate billing customer",
    compares=("stripe", "salesforce"),
    record_system="stripe",
    owner="revops",
    params={"name_similarity": 0.9},
    sql=f"""
    with cust as (
        -- the link as identity resolution made it: metadata naming an existing Account, an
        -- id pasted in its 15-character form included
        select
            s.id, s.created, s.name, l.crm_account_id as salesforce_account_id,
            l.crm_account_id is not null as is_linked,
            lower(split_part(s.email, '@', 2)) as domain,
            trim(regexp_replace(
                trim(regexp_replace(
                    regexp_replace(lower(coalesce(s.name, '')), '[^a-z0-9 ]', '', 'g'),
                    ' +', ' ', 'g')),
                '( ({LEGAL_SUFFIXES}))+$', '')) as norm_name
        from raw_stripe.customers s
        left join core.customer_identities l on l.system = 'stripe' and l.source_id = s.id
    ),
    same_account as (
        select id, first_value(id) over w as original,
               row_number() over w > 1 as later
        from cust where is_linked
        window w as (partition by salesforce_account_id order by created, id)
    ),
    look_alike as (
        select distinct on (later.id) later.id, earlier.id as original
        from cust later
        join cust earlier
          on earlier.domain = later.domain
         and (earlier.created < later.created
              or (earlier.created = later.created and earlier.id < later.id))
        where not later.is_linked
          and later.domain is not null and later.domain <> ''
          and later.domain not in ({FREE_MAIL})
          and jaro_winkler_similarity(later.norm_name, earlier.norm_name) >= {{name_similarity}}
        order by later.id, earlier.created, earlier.id
    ),
    mrr as (
        select customer_id, mrr_reporting from metrics.mrr_monthly
        where month = date_trunc('month', cast({{as_of}} as date))
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
        {{reporting_currency}} as currency,
        coalesce(m.mrr_reporting, 0) * 12 as amount,
        f.id is not null as is_exception,
        'Stripe customer ' || c.id || ' (' || coalesce(c.name, '?') || ') is ' || f.why
            || ' the earlier customer ' || f.original
            || ': merge them in Stripe or link them deliberately' as detail
    from cust c
    left join found f on f.id = c.id
    left join core.customer_identities i on i.system = 'stripe' and i.source_id = c.id
    left join core.customers k on k.customer_id = i.customer_id
    left join mrr m on m.customer_id = i.customer_id
    """,
)
