{#- Generic tests of this project (no dbt hub packages are installed). -#}

{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}

{% test equal_rowcount(model, compare_model, compare_filter='1 = 1') %}
    with
    left_side as (select count(*) as row_count from {{ model }}),
    right_side as (select count(*) as row_count from {{ compare_model }} where {{ compare_filter }})
    select
        left_side.row_count as model_rows,
        right_side.row_count as compare_rows
    from left_side
    cross join right_side
    where left_side.row_count <> right_side.row_count
{% endtest %}

{% test unique_combination(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
