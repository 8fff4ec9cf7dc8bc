from pathlib import Path

import pytest

from ingest.names import object_name, snake_case, split_file_name, unique_names


@pytest.mark.parametrize(
    ("header", "landed"),
    [
        ("AccountId", "account_id"),
        ("Region__c", "region_c"),
        ("Product2Id", "product_2_id"),
        ("MC4SF_MC_Subscriber__c", "mc_4_sf_mc_subscriber_c"),
        ("property_hs_all-funky-a9384-syntax", "property_hs_all_funky_a_9384_syntax"),
        ("createdAt", "created_at"),
        ("_fivetran_synced", "_fivetran_synced"),
        ("hs_analytics_source_data_1", "hs_analytics_source_data_1"),
        ("HTMLBody", "html_body"),
        ("Id", "id"),
        ("  Annual Revenue ($) ", "annual_revenue"),
        ("propertiesWithHistory", "properties_with_history"),
    ],
)
def test_snake_case_matches_connector_naming(header: str, landed: str) -> None:
    assert snake_case(header) == landed


def test_snake_case_is_idempotent_on_connector_names() -> None:
    for name in ("sales_loft_1_sales_loft_step_day_c", "is_excluded_from_territory_2_filter", "region_c"):
        assert snake_case(name) == name


def test_unique_names_suffixes_collisions_in_order() -> None:
    assert unique_names(["email", "id", "email", "email"]) == ["email", "id", "email_2", "email_3"]


@pytest.mark.parametrize(
    ("file", "obj", "fmt", "compression"),
    [
        ("Account.csv", "account", "csv", None),
        ("OpportunityHistory.csv", "opportunity_history", "csv", None),
        ("Account_2026-11-21.csv", "account", "csv", None),
        ("Account_20261121.csv.gz", "account", "csv", "gzip"),
        ("contacts.jsonl", "contacts", "jsonl", None),
        ("deals.json.gz", "deals", "json", "gzip"),
        ("email_event.csv", "email_event", "csv", None),
        ("orders.parquet", "orders", "parquet", None),
        ("notes.docx", "notes", None, None),
    ],
)
def test_file_names_give_object_format_and_compression(
    file: str, obj: str, fmt: str | None, compression: str | None
) -> None:
    assert object_name(Path(file)) == obj
    _, got_format, got_compression = split_file_name(Path(file))
    assert (got_format, got_compression) == (fmt, compression)
