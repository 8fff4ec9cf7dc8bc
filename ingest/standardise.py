"""Standardisers and type parsers.

Type parsing is SQL (DuckDB macros, vectorised over every row; each macro takes the raw text, tries
the common exact form first and only falls back to trimming and the slower forms when that fails).
A macro must not repeat a costly sub-expression: DuckDB would hoist it out of the lazy COALESCE
and run it on every row. ``ingest_utc`` reads a TIMESTAMPTZ's UTC wall time from its epoch
microseconds (the same value as ``CAST(tz AS TIMESTAMP)`` under the ``UTC`` session time zone,
without ICU's per-value calendar work); only +/-infinity take the cast. The standardisers that need a
library (email-validator, phonenumbers, pycountry) run in Python on the DISTINCT values of a column
only; their results come back to DuckDB as mapping tables joined on the raw value.
``ingest_blank`` (NULL or nothing but spaces) skips the trim, which copies the string, when the first
character is printable ASCII other than a space: trim removes Unicode space separators only.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

DEFAULT_PHONE_REGION = "US"

# Addresses matching this are valid for email-validator too (checked in tests), so only the rest
# needs the slower Python validation.
FAST_EMAIL_PATTERN = (
    r"[a-z0-9_%+\-]+(\.[a-z0-9_%+\-]+)*@([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.)+"
    r"[a-z]{2,24}"
)
SPECIAL_USE_TLD_PATTERN = r"\.(arpa|invalid|local|localhost|onion|test)$"

COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "vietnam": "VN",
    "syria": "SY",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "laos": "LA",
    "czech republic": "CZ",
    "turkey": "TR",
    "uae": "AE",
    "espana": "ES",
    "españa": "ES",
    "brasil": "BR",
    "méxico": "MX",
    "schweiz": "CH",
    "suisse": "CH",
    "österreich": "AT",
    "italia": "IT",
}

CURRENCY_SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "C$": "CAD",
    "A$": "AUD",
}

SQL_MACROS = r"""
CREATE OR REPLACE TEMP MACRO ingest_clean(v) AS NULLIF(trim(CAST(v AS VARCHAR)), '');
CREATE OR REPLACE TEMP MACRO ingest_blank(v) AS CASE WHEN v IS NULL THEN true
    WHEN ascii(v) BETWEEN 33 AND 126 THEN false ELSE trim(v) = '' END;
CREATE OR REPLACE TEMP MACRO ingest_number_text(v) AS
    CASE WHEN starts_with(v, '(') AND ends_with(v, ')') THEN '-' || trim(v, '()') ELSE v END;
CREATE OR REPLACE TEMP MACRO ingest_thousands(v) AS
    CASE WHEN regexp_full_match(v, '[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?') THEN replace(v, ',', '') ELSE v END;
CREATE OR REPLACE TEMP MACRO ingest_amount_text(v) AS ingest_thousands(
    regexp_replace(ingest_number_text(v), '[A-Za-z]{3}|^[A-Z]{1,2}\$|[\s$€£¥₹]', '', 'g'));
CREATE OR REPLACE TEMP MACRO ingest_decimal(v) AS coalesce(
    try_cast(v AS DECIMAL(18,4)), try_cast(ingest_amount_text(trim(v)) AS DECIMAL(18,4)));
CREATE OR REPLACE TEMP MACRO ingest_double(v) AS coalesce(
    try_cast(v AS DOUBLE), try_cast(ingest_thousands(ingest_number_text(trim(v))) AS DOUBLE));
CREATE OR REPLACE TEMP MACRO ingest_integer_text(v) AS CASE
    WHEN regexp_full_match(v, '[-+]?[0-9]+') THEN try_cast(v AS BIGINT)
    WHEN regexp_full_match(v, '[-+]?[0-9]{1,3}(,[0-9]{3})+') THEN try_cast(replace(v, ',', '') AS BIGINT)
    WHEN regexp_full_match(v, '[-+]?[0-9]+\.0*') THEN try_cast(split_part(v, '.', 1) AS BIGINT) END;
CREATE OR REPLACE TEMP MACRO ingest_integer(v) AS coalesce(
    CASE WHEN NOT contains(v, '.') AND NOT contains(v, ',') THEN try_cast(v AS BIGINT) END,
    ingest_integer_text(trim(v)));
CREATE OR REPLACE TEMP MACRO ingest_boolean(v) AS CASE
    WHEN v IN ('true', 'false') THEN v = 'true'
    WHEN lower(trim(v)) IN ('true', 't', '1', 'yes', 'y', '1.0') THEN true
    WHEN lower(trim(v)) IN ('false', 'f', '0', 'no', 'n', '0.0') THEN false END;
CREATE OR REPLACE TEMP MACRO ingest_timestamp_text(v) AS coalesce(
    try_cast(try_cast(v AS TIMESTAMPTZ) AS TIMESTAMP),
    try_strptime(v, ['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y', '%d %b %Y', '%d %B %Y',
                     '%d %b %Y %H:%M', '%d %b %Y %H:%M:%S', '%b %d, %Y', '%B %d, %Y', '%Y/%m/%d %H:%M:%S',
                     '%Y/%m/%d']),
    CASE WHEN regexp_full_match(v, '[0-9]{12,13}') THEN make_timestamp(try_cast(v AS BIGINT) * 1000) END);
CREATE OR REPLACE TEMP MACRO ingest_utc(tz) AS coalesce(make_timestamp(epoch_us(tz)), CAST(tz AS TIMESTAMP));
CREATE OR REPLACE TEMP MACRO ingest_timestamp(v) AS coalesce(
    ingest_utc(try_cast(v AS TIMESTAMPTZ)), ingest_timestamp_text(trim(v)));
CREATE OR REPLACE TEMP MACRO ingest_date(v) AS coalesce(
    try_cast(v AS DATE), CAST(ingest_timestamp(v) AS DATE));
"""

TYPE_MACROS = {
    "integer": "ingest_integer",
    "decimal": "ingest_decimal",
    "double": "ingest_double",
    "boolean": "ingest_boolean",
    "timestamp": "ingest_timestamp",
    "date": "ingest_date",
}


@lru_cache(maxsize=262_144)
def standardise_email(value: str) -> tuple[str, bool]:
    """(trimmed lower-case address, valid?) — validity by syntax only, no DNS."""
    text = value.strip().lower()
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return text, False
    return text, True


@lru_cache(maxsize=262_144)
def standardise_phone(value: str, region: str | None) -> tuple[str, bool]:
    """(E.164 number, True) or (the trimmed input, False) when it is not a valid number."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region or DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return text, False
    if not phonenumbers.is_valid_number(number):
        return text, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """ISO-3166 alpha-2 code of a country name, alpha-2/alpha-3 code or common alias; None if unknown."""
    text = " ".join(value.strip().split())
    if not text:
        return None
    folded = text.casefold()
    if folded in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[folded]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    matches = [c for c in pycountry.countries if getattr(c, "common_name", "").casefold() == folded]
    return matches[0].alpha_2 if matches else None


def standardise_country(value: str) -> tuple[str, bool]:
    code = country_code(value)
    return (code, True) if code else (value.strip(), False)


@lru_cache(maxsize=1024)
def currency_code(value: str) -> str | None:
    """ISO-4217 code of a code (any case), symbol or currency name; None if unknown."""
    text = value.strip()
    if text in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[text]
    found = pycountry.currencies.get(alpha_3=text.upper()) if len(text) == 3 else None
    if found is None and len(text) > 3:
        folded = text.casefold()
        found = next((c for c in pycountry.currencies if c.name.casefold() == folded), None)
    return found.alpha_3 if found else None


def email_mapping(values: Iterable[str]) -> list[tuple[str, str, bool]]:
    return [(v, *standardise_email(v)) for v in values]


def phone_mapping(pairs: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None, str, bool]]:
    """(raw phone, raw country, standardised, valid) for each distinct (phone, country) pair."""
    result = []
    for phone, country in pairs:
        region = country_code(country) if country else None
        result.append((phone, country, *standardise_phone(phone, region)))
    return result


def country_mapping(values: Iterable[str]) -> list[tuple[str, str, bool]]:
    return [(v, *standardise_country(v)) for v in values]


def currency_mapping(values: Iterable[str]) -> list[tuple[str, str | None]]:
    return [(v, currency_code(v)) for v in values]
