{#- Acquisition = first payment, so every customer is active in month 0 of fct_customer_months,
    and every customer with months has an acquisition date in dim_customer. -#}

select
    months.customer_key,
    months.month_start_date
from {{ ref('fct_customer_months') }} as months
left join {{ ref('dim_customer') }} as customers
    on months.customer_key = customers.customer_key
        and customers.is_current
where (months.months_since_acquisition = 0 and not months.is_active)
    or customers.acquisition_month is distinct from months.cohort_month
