with source as (
    select * from {{ source('raw_salesforce', 'contract') }}
),

final as (
    select
        Id as contract_id,
        AccountId as account_id,
        ContractNumber as contract_number,
        Status as status,
        StartDate as start_date,
        EndDate as end_date,
        ContractTerm as contract_term_months,
        ActivatedDate as activated_at
    from source
)

select * from final
