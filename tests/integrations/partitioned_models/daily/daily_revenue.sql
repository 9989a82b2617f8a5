-- Revenue per region for one partition's day (reads that partition of daily_orders).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='day') }}
select
    cast('{{ var("nbflow_partition") }}' as date) as day,
    c.region,
    count(*) as orders,
    sum(o.amount) as revenue
from {{ ref('daily_orders') }} o
join {{ ref('countries') }} c on c.code = o.country_code
where o.nbflow_partition = '{{ var("nbflow_partition") }}'
group by 1, 2
