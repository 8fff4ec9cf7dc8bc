"""Phone numbers to E.164 in DuckDB SQL, driven by phonenumbers' own metadata, exact or deferred.

``phonenumbers.parse`` + ``is_valid_number`` cost ~0.1 ms per number in Python. Most numbers in
extracts are written in international form (``+44 20 7946 0958``, ``+1 (415) 555-2671``), and for
that shape the library's algorithm reduces to steps SQL can run on every distinct value at once:

1. The text (already trimmed) is ``+`` followed only by digits, spaces, ``(``, ``)``, ``.``, ``-``
   and at most 250 characters: no letters, so no vanity conversion, no extension, no RFC 3966
   parameters, no second number; the region given for parsing plays no part.
2. The calling code is the first of the 1-, 2- or 3-digit prefixes of the digits that is a known
   calling code (``_extract_country_code``); a leading ``0`` or no known code defers.
3. The national prefix for parsing of the calling code's main region is stripped exactly as
   ``_maybe_strip_national_prefix_carrier_code`` + the length test in ``parse`` do; a region with
   a national prefix *transform rule* (AR, BR, JP, ...) defers whenever its prefix matches.
4. Validity is ``_number_type_helper != UNKNOWN`` in the region ``region_code_for_number`` picks:
   the general description (lengths + pattern) and any one of the number-type descriptions, with
   the first-matching-region rule (leading digits, else full validation) for shared calling codes.

Every pattern, prefix and length list comes from ``phonenumbers.PhoneMetadata`` at run time; the
metadata patterns are written for RE2 too (libphonenumber's C++ port uses it), and only boolean
prefix / full matches are asked of them. Anything outside that shape (national formats, ``00``
prefixes, letters, extensions) goes to :func:`ingest.standardise.standardise_phone` unchanged, so
results are identical to the library's; ``tests/ingest/test_phones.py`` compares both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from ingest import standardise as std
from ingest.readers import quote_literal

FAST_SHAPE = r"\+[0-9 ().\-]+"
MAX_INPUT_LENGTH = 250  # phonenumbers' _MAX_INPUT_STRING_LENGTH
MIN_NSN_LENGTH = 2  # _MIN_LENGTH_FOR_NSN
MAX_NSN_LENGTH = 17  # _MAX_LENGTH_FOR_NSN
PLAIN_DIGITS = re.compile(r"[0-9]+")
# _number_type_helper's order does not matter for "is it any type": the union of these is valid.
NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


def calling_code_sql(digits: str) -> str:
    """SQL: the calling code the library extracts from ``digits`` (after '+'), NULL if none."""
    codes = {str(code) for code in COUNTRY_CODE_TO_REGION_CODE}
    branches = []
    for size in (1, 2, 3):
        sized = sorted(c for c in codes if len(c) == size)
        listed = ", ".join(quote_literal(c) for c in sized)
        branches.append(f"WHEN left({digits}, {size}) IN ({listed}) THEN left({digits}, {size})")
    return f"CASE WHEN starts_with({digits}, '0') THEN NULL {' '.join(branches)} END"


def _lengths(values: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(v) for v in values) or "NULL"


def _desc_sql(number: str, desc: object) -> str | None:
    """SQL for ``_is_number_matching_desc(number, desc)``; None when it can never match."""
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return None
    lengths = tuple(getattr(desc, "possible_length", ()) or ())
    match = f"regexp_full_match({number}, {quote_literal(pattern)})"
    if lengths:
        if lengths == (-1,):
            return None
        return f"(length({number}) IN ({_lengths(lengths)}) AND {match})"
    return match


def _valid_in_region_sql(number: str, metadata: PhoneMetadata) -> str:
    """SQL for ``_number_type_helper(number, metadata) != UNKNOWN``."""
    general = _desc_sql(number, metadata.general_desc)
    if general is None:
        return "false"
    descs = [getattr(metadata, name) for name in NUMBER_TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    # One regex per set of possible lengths (an alternation full-matches iff one branch does):
    # each pattern costs DuckDB a compilation per query.
    by_lengths: dict[tuple[int, ...], list[str]] = {}
    for desc in descs:
        pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
        lengths = tuple(getattr(desc, "possible_length", ()) or ()) if desc is not None else ()
        if pattern and lengths != (-1,):
            by_lengths.setdefault(lengths, []).append(pattern)
    if not by_lengths:
        return "false"
    alternatives = []
    for lengths, patterns in by_lengths.items():
        union = quote_literal("|".join(f"(?:{p})" for p in dict.fromkeys(patterns)))
        match = f"regexp_full_match({number}, {union})"
        alternatives.append(f"(length({number}) IN ({_lengths(lengths)}) AND {match})" if lengths else match)
    return f"({general} AND ({' OR '.join(alternatives)}))"


def _valid_sql(number: str, calling_code: int, matched_regions: set[str]) -> str:
    """SQL for ``is_valid_number`` of a number with this calling code and national number.

    ``matched_regions``: the regions with leading digits that match at least one number to
    decide; the others can never be picked by region_code_for_number, so their (costly to
    compile) patterns are left out.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE[calling_code]
    if len(regions) == 1:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, regions[0])
        return _valid_in_region_sql(number, metadata) if metadata is not None else "false"
    # region_code_for_number: the first region whose leading digits match (else that validates).
    branches = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is None:
            branches.append(f"WHEN {_valid_in_region_sql(number, metadata)} THEN true")
        elif region in matched_regions:
            branches.append(
                f"WHEN {_leading_digits_sql(number, metadata.leading_digits)} "
                f"THEN {_valid_in_region_sql(number, metadata)}"
            )
    return f"CASE {' '.join(branches)} ELSE false END" if branches else "false"


def _leading_digits_sql(number: str, leading_digits: str) -> str:
    return f"regexp_matches({number}, {quote_literal('^(?:' + leading_digits + ')')})"


def _prefix_length_sql(number: str, metadata: PhoneMetadata) -> str | None:
    """SQL: length of the national prefix for parsing at the start of ``number`` (NULL: none, -1: defer)."""
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return None
    anchored = quote_literal("^(?:" + prefix + ")")
    if metadata.national_prefix_transform_rule or not _strippable(metadata):
        return f"CASE WHEN regexp_matches({number}, {anchored}) THEN -1 END"
    literals = prefix.split("|")
    if all(PLAIN_DIGITS.fullmatch(literal) for literal in literals):
        # Alternation of digit strings: the first alternative that is a prefix wins, as in re.match.
        branches = " ".join(f"WHEN starts_with({number}, {quote_literal(x)}) THEN {len(x)}" for x in literals)
        return f"CASE {branches} END"
    return f"CASE WHEN regexp_matches({number}, {anchored}) THEN length(regexp_extract({number}, {anchored})) END"


def _strippable(metadata: PhoneMetadata) -> bool:
    general = metadata.general_desc
    return bool(general.national_number_pattern and general.possible_length)


def _stripped_sql(number: str, stripped: str, metadata: PhoneMetadata) -> str:
    """SQL: the national number parse keeps when ``stripped`` is ``number`` minus its national prefix."""
    if metadata.national_prefix_transform_rule or not _strippable(metadata):
        return "NULL::VARCHAR"
    general = metadata.general_desc
    pattern = quote_literal(general.national_number_pattern)
    lengths = tuple(general.possible_length)
    local = tuple(general.possible_length_local_only)
    # _test_number_length: IS_POSSIBLE or TOO_LONG keep the stripped number.
    length = f"length({stripped})"
    local_test = f"{length} NOT IN ({_lengths(local)}) AND " if local else ""
    accepted = f"{local_test}({length} IN ({_lengths(lengths)}) OR {length} > {max(lengths)})"
    return f"""CASE WHEN regexp_full_match({number}, {pattern}) AND NOT regexp_full_match({stripped}, {pattern})
        THEN {number} WHEN {accepted} THEN {stripped} ELSE {number} END"""


def _main_metadata(calling_code: int) -> PhoneMetadata | None:
    region = COUNTRY_CODE_TO_REGION_CODE[calling_code][0]
    return PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)


def split_sql(pairs_table: str, carry: str = "") -> str:
    """SELECT p, c, cc, nn: the pairs in the fast path's shape, split into calling code and the rest.

    ``carry``: more columns of ``pairs_table`` passed through (``"rv, rc, "``), with their separator."""
    return f"""
    WITH shaped AS (
      SELECT {carry}p, c, regexp_replace(p, '[^0-9]', '', 'g') AS d FROM {pairs_table}
      WHERE length(p) <= {MAX_INPUT_LENGTH} AND regexp_full_match(p, {quote_literal(FAST_SHAPE)}))
    SELECT {carry}p, c, cc, substr(d, length(cc) + 1) AS nn
    FROM (SELECT *, {calling_code_sql("d")} AS cc FROM shaped)
    WHERE cc IS NOT NULL AND length(d) - length(cc) >= {MIN_NSN_LENGTH}"""


@contextmanager
def _optimizer_off(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's optimizer copies expressions pass after pass, and every copy of a regexp call
    recompiles its pattern: ~0.3 s per statement here, ~10x the whole statement without it.
    These statements are plain projections over a temp table, which it has nothing to improve."""
    con.execute("PRAGMA disable_optimizer")
    try:
        yield
    finally:
        con.execute("PRAGMA enable_optimizer")


def fast_mapping(
    con: duckdb.DuckDBPyConnection, pairs_table: str, mapping_table: str, carry: tuple[str, ...] = ()
) -> None:
    """``mapping_table(<carry>, p, c, std, valid)`` for the pairs the fast path decides, exactly as the library.

    Each step is its own table (or materialised CTE) so that only the metadata of the calling
    codes (and regions) present is compiled, and DuckDB does not inline one step's large CASE
    into every filter or expression of the next: that made planning ~10x slower.
    """
    with _optimizer_off(con):
        _fast_mapping(con, pairs_table, mapping_table, "".join(f"{c}, " for c in carry))


def _fast_mapping(con: duckdb.DuckDBPyConnection, pairs_table: str, mapping_table: str, carry: str) -> None:
    split_table, national_table = f"{mapping_table}_split", f"{mapping_table}_nsn"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {split_table} AS {split_sql(pairs_table, carry)}")
    present = [row[0] for row in con.execute(f"SELECT DISTINCT cc FROM {split_table} ORDER BY cc").fetchall()]
    metadata = {code: m for code in present if (m := _main_metadata(int(code))) is not None}
    prefix_lengths = [
        f"WHEN {quote_literal(code)} THEN {sql}"
        for code, m in metadata.items()
        if (sql := _prefix_length_sql("nn", m)) is not None
    ]
    prefix_case = f"CASE cc {' '.join(prefix_lengths)} END" if prefix_lengths else "NULL::INTEGER"
    stripped = [
        f"WHEN {quote_literal(code)} THEN {_stripped_sql('nn', 'substr(nn, plen + 1)', m)}"
        for code, m in metadata.items()
    ]
    stripped_case = f"CASE cc {' '.join(stripped)} END" if stripped else "NULL::VARCHAR"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {national_table} AS
        WITH prefixed AS MATERIALIZED (SELECT {carry}p, c, cc, nn, {prefix_case} AS plen FROM {split_table})
        SELECT {carry}p, c, cc, CASE WHEN plen IS NULL THEN nn WHEN plen < 0 THEN NULL ELSE {stripped_case} END AS nsn
        FROM prefixed"""
    )
    con.execute(f"DELETE FROM {national_table} WHERE nsn IS NULL OR length(nsn) > {MAX_NSN_LENGTH}")
    matched = _regions_with_matching_leading_digits(con, national_table, present)
    valid = [f"WHEN {quote_literal(code)} THEN {_valid_sql('nsn', int(code), matched)}" for code in present]
    valid_case = f"CASE cc {' '.join(valid)} END" if valid else "NULL::BOOLEAN"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {mapping_table} AS
        WITH checked AS MATERIALIZED (SELECT {carry}p, c, cc, nsn, {valid_case} AS valid FROM {national_table})
        SELECT {carry}p, c, CASE WHEN valid THEN '+' || cc || nsn ELSE p END AS std, valid FROM checked"""
    )
    con.execute(f"DROP TABLE {split_table}")
    con.execute(f"DROP TABLE {national_table}")


def _regions_with_matching_leading_digits(
    con: duckdb.DuckDBPyConnection, national_table: str, codes: list[str]
) -> set[str]:
    tests = []
    for code in codes:
        regions = COUNTRY_CODE_TO_REGION_CODE[int(code)]
        for region in regions if len(regions) > 1 else ():
            metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
            if metadata is not None and metadata.leading_digits is not None:
                condition = _leading_digits_sql("nsn", metadata.leading_digits)
                tests.append((region, f"bool_or(cc = {quote_literal(code)} AND {condition})"))
    if not tests:
        return set()
    found = con.execute(f"SELECT {', '.join(sql for _, sql in tests)} FROM {national_table}").fetchone()
    return {region for (region, _), hit in zip(tests, found, strict=True) if hit}


def build_phone_mapping(
    con: duckdb.DuckDBPyConnection, pairs_table: str, mapping_table: str, carry: tuple[str, ...] = ()
) -> None:
    """``mapping_table(<carry>, p, c, std, valid)``: one row per row of ``pairs_table``.

    ``pairs_table`` holds (p: trimmed raw phone, c: raw country or NULL) and the ``carry`` columns
    (the raw values the pair was cleaned from, say), passed through; the fast path decides what it
    can, phonenumbers the rest.
    """
    fast_mapping(con, pairs_table, mapping_table, carry)
    rest = con.execute(
        f"""SELECT p, c{"".join(f", {c}" for c in carry)} FROM {pairs_table} x
        WHERE NOT EXISTS (SELECT 1 FROM {mapping_table} m WHERE m.p = x.p AND m.c IS NOT DISTINCT FROM x.c)"""
    ).fetchall()
    if not rest:
        return
    rows = std.phone_mapping((r[0], r[1]) for r in rest)
    columns = {c: pa.array([r[2 + i] for r in rest], type=pa.string()) for i, c in enumerate(carry)}
    table = pa.table(
        {
            **columns,
            "p": pa.array([r[0] for r in rows], type=pa.string()),
            "c": pa.array([r[1] for r in rows], type=pa.string()),
            "std": pa.array([r[2] for r in rows], type=pa.string()),
            "valid": pa.array([r[3] for r in rows], type=pa.bool_()),
        }
    )
    con.register(f"{mapping_table}_arrow", table)
    con.execute(f"INSERT INTO {mapping_table} SELECT * FROM {mapping_table}_arrow")
    con.unregister(f"{mapping_table}_arrow")
