select
    id as order_id,
    country as country_code,
    cast(amount as double) as amount,
    cast(ordered_at as date) as ordered_on
from {{ source('raw', 'raw_orders') }}
where amount is not null
