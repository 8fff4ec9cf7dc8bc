{#- Edges of the identity graph, one per (record, rule): source links as they are, and for
    each key rule of identity_match_rules() every record sharing a key is linked to the key's
    first record (a star, so edges grow linearly with records). Edges never cross entity
    types: people are linked to people, companies to companies. -#}
{%- set rules = identity_match_rules() %}
-- noqa: disable=LT02

with

records as (

    select * from {{ ref('int_identity__records') }}

),

links as (

    select * from {{ ref('int_identity__source_links') }}

),

{% for rule in rules if rule.kind == 'key' %}
{{ rule.rule_name }}_groups as (

    select
        entity_type,
        {{ rule.key_column }} as match_key,
        min(sort_key) as first_sort_key,
        count(*) as group_size
    from records
    where {{ rule.key_column }} is not null
    {%- if rule.entity != 'any' %}
        and entity_type = '{{ rule.entity }}'
    {%- endif %}
    group by entity_type, {{ rule.key_column }}

),

{{ rule.rule_name }}_edges as (

    select
        records.record_key as from_key,
        first_record.record_key as to_key,
        records.entity_type,
        '{{ rule.rule_name }}' as rule_name,
        {{ rule.rule_order }} as rule_order,
        {{ rule.rule_name }}_groups.match_key,
        {{ rule.rule_name }}_groups.group_size,
        {{ rule.rule_name }}_groups.group_size > {{ var('identity_max_key_group_size') }} as is_skipped
    from records
    inner join {{ rule.rule_name }}_groups
        on records.entity_type = {{ rule.rule_name }}_groups.entity_type
        and records.{{ rule.key_column }} = {{ rule.rule_name }}_groups.match_key
    inner join records as first_record
        on {{ rule.rule_name }}_groups.first_sort_key = first_record.sort_key
    where records.sort_key <> {{ rule.rule_name }}_groups.first_sort_key

),

{% endfor %}
link_edges as (

    select
        links.from_key,
        links.to_key,
        links.entity_type,
        links.rule_name,
        case links.rule_name
            {%- for rule in rules if rule.kind == 'link' %}
            when '{{ rule.rule_name }}' then {{ rule.rule_order }}
            {%- endfor %}
        end as rule_order,
        cast(null as {{ dbt.type_string() }}) as match_key,
        cast(2 as bigint) as group_size,
        false as is_skipped
    from links

),

final as (

    select * from link_edges
    {%- for rule in rules if rule.kind == 'key' %}
    union all
    select * from {{ rule.rule_name }}_edges
    {%- endfor %}

)

select * from final
