import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import rows

from ingest import standardise as std
from ingest.run import ingest_paths
from warehouse.config import Settings


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(std.SQL_MACROS)
    return connection


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", Decimal("1234.5")),
        (" 12 ", Decimal("12")),
        ("USD 12.5", Decimal("12.5")),
        ("12.5 EUR", Decimal("12.5")),
        ("€99", Decimal("99")),
        ("(1,234.00)", Decimal("-1234")),
        ("1.2E6", Decimal("1200000")),
        ("N/A", None),
        ("abc", None),
        ("1.2.3", None),
        ("1,5", None),
        ("12,34.5", None),
    ],
)
def test_decimal_amounts(con: duckdb.DuckDBPyConnection, text: str, expected: Decimal | None) -> None:
    assert con.execute("SELECT ingest_decimal(?)", [text]).fetchone()[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04T10:00:00Z", datetime(2025, 3, 4, 10, 0)),
        ("2025-03-04T10:00:00+02:00", datetime(2025, 3, 4, 8, 0)),
        ("2025-03-04T10:00:00.000-0500", datetime(2025, 3, 4, 15, 0)),
        ("2025-03-04 10:00:00", datetime(2025, 3, 4, 10, 0)),
        ("2020-12-30 3:15:52", datetime(2020, 12, 30, 3, 15, 52)),
        ("2025-03-04", datetime(2025, 3, 4)),
        ("03/04/2025 10:15", datetime(2025, 3, 4, 10, 15)),
        ("4 Mar 2025", datetime(2025, 3, 4)),
        (" 2025-01-01 ", datetime(2025, 1, 1)),
        ("1700000000000", datetime(2023, 11, 14, 22, 13, 20)),
        ("not a date", None),
        ("2025-13-45", None),
    ],
)
def test_timestamps_land_in_utc(con: duckdb.DuckDBPyConnection, text: str, expected: datetime | None) -> None:
    assert con.execute("SELECT ingest_timestamp(?)", [text]).fetchone()[0] == expected


def test_dates_accept_timestamps(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute("SELECT ingest_date('2018-12-19 00:00:00'), ingest_date('12/19/2018')").fetchone()
    assert got == (date(2018, 12, 19), date(2018, 12, 19))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        (" T ", True),
        ("maybe", None),
    ],
)
def test_booleans(con: duckdb.DuckDBPyConnection, text: str, expected: bool | None) -> None:
    assert con.execute("SELECT ingest_boolean(?)", [text]).fetchone()[0] is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", 10), (" 10 ", 10), ("1,000", 1000), ("10.0", 10), ("10.5", None), ("ten", None)],
)
def test_integers_never_round(con: duckdb.DuckDBPyConnection, text: str, expected: int | None) -> None:
    assert con.execute("SELECT ingest_integer(?)", [text]).fetchone()[0] == expected


def test_email_is_trimmed_lowered_and_checked_without_dns() -> None:
    assert std.standardise_email("  Alice@Example.COM ") == ("alice@example.com", True)
    assert std.standardise_email("not-an-email") == ("not-an-email", False)
    assert std.standardise_email("bob@host.local") == ("bob@host.local", False)


def test_fast_email_pattern_never_accepts_what_email_validator_refuses() -> None:
    candidates = [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example",
        "a@example.c",
        "x@test.test",
        "bob@foo.local",
        "o'brien@example.com",
        "user_name%x@example.io",
        "a@b.invalid",
        "1@2.com",
    ]
    fast = re.compile(std.FAST_EMAIL_PATTERN)
    special = re.compile(std.SPECIAL_USE_TLD_PATTERN)
    for address in candidates:
        if fast.fullmatch(address) and not special.search(address):
            assert std.standardise_email(address)[1], address


@pytest.mark.parametrize(
    ("phone", "region", "expected"),
    [
        ("(415) 555-2671", None, ("+14155552671", True)),
        ("+44 20 7946 0958", None, ("+442079460958", True)),
        ("030 1234567", "DE", ("+49301234567", True)),
        (" 12 ", None, ("12", False)),
        ("call me", None, ("call me", False)),
    ],
)
def test_phone_to_e164(phone: str, region: str | None, expected: tuple[str, bool]) -> None:
    assert std.standardise_phone(phone, region) == expected


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("USA", ("US", True)),
        ("UK", ("GB", True)),
        ("United States", ("US", True)),
        ("Germany", ("DE", True)),
        ("deu", ("DE", True)),
        ("fr", ("FR", True)),
        ("Korea, Republic of", ("KR", True)),
        (" Atlantis ", ("Atlantis", False)),
    ],
)
def test_country_to_iso_alpha_2(country: str, expected: tuple[str, bool]) -> None:
    assert std.standardise_country(country) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("usd", "USD"), ("EUR", "EUR"), ("$", "USD"), ("Euro", "EUR"), ("XYZ", None), ("dollars", None)],
)
def test_currency_to_iso_4217(text: str, expected: str | None) -> None:
    assert std.currency_code(text) == expected


def test_each_dirt_kind_lands_standardised_or_is_rejected_with_its_reason(
    settings: Settings, case_inbox: Path
) -> None:
    report = ingest_paths(settings, [case_inbox / "billing" / "orders.csv"])
    lake = settings.lake_dir
    landed = {r["order_id"]: r for r in rows(lake / "billing" / "order" / "*.parquet")}
    rejected = {
        (r["order_id"], r["_reject_reason"])
        for r in rows(lake / "_rejects" / "billing" / "order" / "*.parquet")
    }

    o1 = landed["O-1"]
    assert (o1["customer_email"], o1["customer_email_is_valid"]) == ("alice@example.com", True)
    assert (o1["customer_phone"], o1["customer_phone_is_valid"]) == ("+14155552671", True)
    assert (o1["country"], o1["country_is_valid"]) == ("US", True)
    assert o1["order_date"] == datetime(2025, 3, 4, 8, 0)
    assert o1["amount"] == Decimal("1234.5")
    assert o1["currency"] == "USD"
    o2 = landed["O-2"]
    assert (o2["customer_email"], o2["customer_email_is_valid"]) == ("not-an-email", False)
    assert (o2["customer_phone"], o2["country"]) == ("+49301234567", "DE")
    assert o2["order_date"] == datetime(2025, 3, 4, 10, 15)
    assert landed["O-6"]["order_date"] == datetime(2025, 3, 4)
    o10 = landed["O-10"]
    assert (o10["country"], o10["country_is_valid"]) == ("Atlantis", False)
    assert (o10["customer_phone"], o10["customer_phone_is_valid"]) == ("555 0100", False)

    assert ("O-3", "amount: cannot parse 'N/A' as decimal") in rejected
    assert ("O-4", "currency: unknown currency code 'XYZ'") in rejected
    assert (None, "order_id: required value missing") in rejected
    assert ("O-8", "order_date: cannot parse 'not a date' as timestamp") in rejected
    assert ("O-9", "item_count: cannot parse 'three' as integer") in rejected
    malformed = [
        reason for order_id, reason in rejected if order_id is None and reason.startswith("malformed")
    ]
    assert malformed == ["malformed CSV line 8: too many columns (Expected Number of Columns: 15 Found: 16)"]
    (file_report,) = report.files
    assert file_report.rows_rejected == len(rejected) == 6
    assert report.exit_code == 1


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-04T10:00:00Z",
        "2025-03-04T10:00:00+02:00",
        "2025-03-04 10:00:00 Europe/Paris",
        "1500-01-01 00:00:00",
        "infinity",
        "-infinity",
        "2025-03-04",
    ],
)
def test_utc_wall_time_equals_the_icu_cast(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """ingest_utc skips ICU but must give what CAST(tz AS TIMESTAMP) gives in a UTC session."""
    got, expected = con.execute(
        "SELECT ingest_timestamp(?), CAST(try_cast(? AS TIMESTAMPTZ) AS TIMESTAMP)", [text, text]
    ).fetchone()
    assert got == expected is not None
