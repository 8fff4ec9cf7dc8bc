-- Source values that name a channel but have no row in seeds/channel_source_mapping.csv.
-- Their interactions are kept on the 'unknown' channel; this warning lists the values to map.
{{ config(severity='warn') }}

select
    source_system,
    source_field,
    source_value
from {{ ref('int_channels__source_values') }}
where is_unmapped
