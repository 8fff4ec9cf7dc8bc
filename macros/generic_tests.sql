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

{#- Fails when some combination of the columns occurs on more than one row: then the table has
    more rows than distinct combinations. Two counts instead of a group by keeping a count per
    combination (a third faster on the 15M customer months at large scale). -#}
{% test unique_combination(model, combination_of_columns) %}
    with
    all_rows as (
        select count(*) as row_count from {{ model }}
    ),
    distinct_combinations as (
        select count(*) as combination_count
        from (
            select distinct {{ combination_of_columns | join(', ') }}
            from {{ model }}
        ) as combinations
    )
    select
        all_rows.row_count,
        distinct_combinations.combination_count
    from all_rows
    cross join distinct_combinations
    where all_rows.row_count <> distinct_combinations.combination_count
{% endtest %}
