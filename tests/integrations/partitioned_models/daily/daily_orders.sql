-- One day's orders per nbflow partition: the window comes in as dbt vars, and
-- delete+insert replaces the rows of that window only.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_id') }}
select
    id as order_id,
    country as country_code,
    cast(amount as double) as amount,
    cast(ordered_at as timestamptz) as ordered_at,
    '{{ var("nbflow_partition") }}' as nbflow_partition,
    '{{ var("nbflow_window_start") }}' as window_start,
    '{{ var("nbflow_window_end") }}' as window_end
from {{ source('raw', 'raw_orders') }}
where cast(ordered_at as timestamptz) >= cast('{{ var("nbflow_window_start") }}' as timestamptz)
  and cast(ordered_at as timestamptz) < cast('{{ var("nbflow_window_end") }}' as timestamptz)
