{# dbt_utils' test of the same name, which cannot be installed here: no two rows share the key. #}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set key = combination_of_columns | join(', ') %}
    select {{ key }}, count(*) as n_rows
    from {{ model }}
    group by {{ key }}
    having count(*) > 1
{% endtest %}
