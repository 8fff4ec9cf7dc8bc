{#- THE identity-resolution rules, in the order they are applied (documented in
    models/intermediate/identity/_identity__models.yml). Lower rule_order wins when a record
    is linked by several rules; the crosswalk reports the winning rule per record.

    kind 'link': an explicit link between two records, taken from the sources (merges, conversions).
    kind 'key': records sharing a normalised key are the same entity; a key shared by more records
    than var('identity_max_key_group_size') is treated as junk (e.g. a switchboard number) and ignored. -#}
{% macro identity_match_rules() -%}
    {{ return([
        {'rule_name': 'salesforce_master_record', 'rule_order': 1, 'kind': 'link', 'entity': 'any',
         'description': 'Salesforce merge: the record names its surviving master_record_id.'},
        {'rule_name': 'hubspot_merge', 'rule_order': 2, 'kind': 'link', 'entity': 'any',
         'description': 'HubSpot merge: contact_merge_audit rows and hs_merged_object_ids lists.'},
        {'rule_name': 'lead_conversion', 'rule_order': 3, 'kind': 'link', 'entity': 'person',
         'description': 'A converted Salesforce lead is the contact it was converted to.'},
        {'rule_name': 'email', 'rule_order': 4, 'kind': 'key', 'entity': 'person', 'key_column': 'email_key',
         'description': 'Same normalised e-mail address (lower-cased, trimmed).'},
        {'rule_name': 'phone', 'rule_order': 5, 'kind': 'key', 'entity': 'any', 'key_column': 'phone_key',
         'description': 'Same phone number (digits only, at least 7).'},
        {'rule_name': 'domain', 'rule_order': 6, 'kind': 'key', 'entity': 'company', 'key_column': 'domain_key',
         'description': 'Same company web domain (no scheme, www., path or port).'},
    ]) }}
{%- endmacro %}

{#- Fixed source priority: the anchor of a cluster (and so its stable customer_key) is its
    record with the lowest priority, then the lowest record key. Also the order of the
    'source_priority' survivorship strategy. -#}
{% macro identity_source_priority() -%}
    {{ return({
        'salesforce:account': 1,
        'hubspot:company': 2,
        'salesforce:contact': 3,
        'hubspot:contact': 4,
        'salesforce:lead': 5,
        'billing:customer': 6,
        'contact_center:customer': 7,
    }) }}
{%- endmacro %}

{#- Survivorship: which record's value each customer attribute takes.
    source_priority = first non-null value in identity_source_priority order (then most recent);
    most_recent = non-null value of the most recently updated record;
    earliest = non-null value of the earliest created record. -#}
{% macro survivorship_rules() -%}
    {{ return({
        'customer_name': 'source_priority',
        'industry': 'source_priority',
        'number_of_employees': 'most_recent',
        'source_segment': 'source_priority',
        'city': 'source_priority',
        'country_code': 'source_priority',
        'primary_email': 'source_priority',
        'lead_source_raw': 'earliest',
        'lead_source_system': 'earliest',
    }) }}
{%- endmacro %}

{% macro survive(column_name, strategy) -%}
    {%- set order_column = {'source_priority': 'priority_order', 'most_recent': 'recency_order', 'earliest': 'age_order'}[strategy] -%}
    min_by({{ column_name }}, {{ order_column }}) filter (where {{ column_name }} is not null)
{%- endmacro %}
