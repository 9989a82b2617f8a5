-- singular test: no region may have negative revenue
select * from {{ ref('revenue_by_region') }} where revenue < 0
