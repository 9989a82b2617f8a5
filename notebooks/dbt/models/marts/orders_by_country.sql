select
    o.country_code,
    c.name as country,
    c.region,
    count(*) as orders,
    sum(o.amount) as revenue
from {{ ref('stg_orders') }} o
join {{ ref('countries') }} c on c.code = o.country_code
group by 1, 2, 3
