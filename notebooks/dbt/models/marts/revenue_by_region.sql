select region, sum(revenue) as revenue, sum(orders) as orders
from {{ ref('orders_by_country') }}
group by 1
