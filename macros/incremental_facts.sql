{#- The two halves of how the incremental facts stay equal to a full refresh, in one place.
    Any row whose values differ from the built one (new, changed late such as a refund of an old
    order, or re-keyed by identity resolution) is replaced; a date window would miss changes to old
    rows. Keys that no longer exist upstream are deleted after the run. -#}

{% macro rows_changed_since_last_build(relation) -%}
    select * from {{ relation }}
    {%- if is_incremental() %}
    except
    select * from {{ this }}
    {%- endif %}
{%- endmacro %}


{% macro delete_vanished_keys(key_column, upstream) -%}
    delete from {{ this }} where {{ key_column }} not in (select {{ key_column }} from {{ upstream }})
{%- endmacro %}
