"""Erasure tombstones: rows of a person erased on request never land again.

``crmwh forget`` appends the salted hashes of the person's identifiers to the tombstone file (JSON
lines, hashes only). Ingest drops every incoming row that refers to a tombstoned identifier before
it lands: such rows are counted (``rows_erased``, reason ``erased_on_request``) but their values are
written nowhere, not even to the rejects file.

Which columns refer to a person is :data:`PERSON_REFERENCES`: the person's own records (matched by
e-mail, phone or their record id) and the records they own (their tasks, events, cases, tickets,
engagements, deals, merge audits, orders and messages, matched by the person's record id). The same
rules drive the lake rewrite of ``crmwh forget``, so "the person" means the same thing at both ends.

The hash itself belongs to the warehouse (one salt, one hash for masking and erasure): the caller
passes it in as a SQL expression builder, so this package does not depend on the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.contracts import ObjectContract
from ingest.errors import IngestError
from ingest.readers import RawTable, quote_ident

ERASED_REASON = "erased_on_request"
KINDS = ("email", "phone", "record")
# Candidate e-mail addresses inside a raw line the reader could not split into columns.
EMAIL_TOKEN_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
MIN_PHONE_DIGITS = 7


class TombstoneError(IngestError):
    """The tombstone file cannot be read: ingest stops rather than bring an erased person back."""


@dataclass(frozen=True)
class PersonReference:
    """A column of a source object that identifies a person.

    ``kind`` is ``email`` (compared trimmed and lower-cased), ``phone`` (compared as its digits) or
    ``record`` (the value is the id of a record in each of ``namespaces``, e.g. ``salesforce:contact``).
    """

    column: str
    kind: str
    namespaces: tuple[str, ...] = ()


def _email(column: str) -> PersonReference:
    return PersonReference(column, "email")


def _phone(column: str) -> PersonReference:
    return PersonReference(column, "phone")


def _record(column: str, *namespaces: str) -> PersonReference:
    return PersonReference(column, "record", namespaces)


SF_PERSON = ("salesforce:contact", "salesforce:lead")
PERSON_REFERENCES: dict[tuple[str, str], tuple[PersonReference, ...]] = {
    ("salesforce", "contact"): (
        _record("id", "salesforce:contact"),
        _email("email"),
        _phone("phone"),
        _phone("mobile_phone"),
    ),
    ("salesforce", "lead"): (
        _record("id", "salesforce:lead"),
        _record("converted_contact_id", "salesforce:contact"),
        _email("email"),
        _phone("phone"),
    ),
    ("salesforce", "user"): (_email("email"),),
    ("salesforce", "task"): (_record("who_id", *SF_PERSON),),
    ("salesforce", "event"): (_record("who_id", *SF_PERSON),),
    ("salesforce", "case"): (_record("contact_id", "salesforce:contact"),),
    ("hubspot", "contact"): (
        _record("id", "hubspot:contact"),
        _email("property_email"),
        _phone("property_phone"),
        _phone("property_mobilephone"),
    ),
    ("hubspot", "owner"): (_email("email"),),
    ("hubspot", "deal"): (_record("contact_id", "hubspot:contact"), _record("id", "hubspot:deal")),
    ("hubspot", "deal_stage"): (_record("deal_id", "hubspot:deal"),),
    ("hubspot", "engagement"): (_record("contact_id", "hubspot:contact"),),
    ("hubspot", "ticket"): (_record("contact_id", "hubspot:contact"),),
    ("hubspot", "contact_merge_audit"): (
        _record("canonical_vid", "hubspot:contact"),
        _record("vid_to_merge", "hubspot:contact"),
    ),
    ("billing", "order"): (
        _record("customer_id", "billing:customer"),
        _email("customer_email"),
        _phone("customer_phone"),
    ),
    ("contact_center", "message"): (_email("customer_email"), _phone("customer_phone")),
}


def identifier_sql(reference: PersonReference, value_sql: str) -> list[str]:
    """SQL expressions giving the identifier text(s) a column value stands for (NULL when none)."""
    text = f"CAST({value_sql} AS VARCHAR)"
    if reference.kind == "email":
        return [f"nullif(lower(trim({text})), '')"]
    if reference.kind == "phone":
        digits = f"regexp_replace({text}, '[^0-9]', '', 'g')"
        return [f"CASE WHEN length({digits}) >= {MIN_PHONE_DIGITS} THEN {digits} END"]
    value = f"nullif(trim({text}), '')"
    return [f"'{namespace}:' || {value}" for namespace in reference.namespaces]


def phone_identifier(value: str) -> str | None:
    """The identifier text of a phone number (its digits), as :func:`identifier_sql` computes it."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def email_identifier(value: str) -> str | None:
    text = value.strip().lower()
    return text or None


def references_for(source: str, object_name: str) -> tuple[PersonReference, ...]:
    return PERSON_REFERENCES.get((source, object_name), ())


@dataclass(frozen=True)
class Tombstones:
    """The tombstoned identifier hashes and the SQL that hashes an identifier the same way."""

    hashes: frozenset[str]
    hash_sql: Callable[[str], str]

    def __bool__(self) -> bool:
        return bool(self.hashes)


def read_tombstone_hashes(path: Path) -> frozenset[str]:
    """Every ``hash`` of the JSON-lines tombstone file (none when the file does not exist)."""
    if not path.exists():
        return frozenset()
    hashes = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TombstoneError(
            f"tombstone file {path} cannot be read ({exc}); fix it before ingesting"
        ) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            hashes.add(str(json.loads(line)["hash"]))
        except (ValueError, KeyError, TypeError):
            raise TombstoneError(
                f"tombstone file {path}, line {number}: not a JSON object with a 'hash'; "
                "restore the line from a backup (never delete tombstones, erased people would come back)"
            ) from None
    return frozenset(hashes)


def row_match_sql(
    columns: dict[str, PersonReference], hash_table: str, hash_sql: Callable[[str], str], alias: str = "r"
) -> str | None:
    """A condition true for the rows of ``alias`` whose identifiers hash into ``hash_table``.

    ``columns`` maps the column name present in the table to the reference it carries.
    """
    tests = []
    for column, reference in columns.items():
        for identifier in identifier_sql(reference, f"{alias}.{quote_ident(column)}"):
            tests.append(f"{hash_sql(identifier)} IN (SELECT hash FROM {hash_table})")
    return " OR ".join(tests) if tests else None


def raw_line_match_sql(hash_table: str, hash_sql: Callable[[str], str], alias: str = "r") -> str:
    """A condition true when an e-mail address written in ``_raw_line`` is tombstoned."""
    tokens = f"regexp_extract_all(lower({alias}._raw_line), '{EMAIL_TOKEN_PATTERN.lower()}')"
    return (
        f"list_has_any(list_transform({tokens}, lambda x: {hash_sql('x')}), "
        f"(SELECT coalesce(list(hash), []) FROM {hash_table}))"
    )


def erase_raw(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    contract: ObjectContract | None,
    source: str,
    tombstones: Tombstones | None,
    prefix: str,
) -> int:
    """Remove the tombstoned rows from ``raw`` before it lands; returns how many were removed.

    Row numbers and row hashes of the rows kept are fixed first, so lineage still points at the
    line of the file each landed row came from. Lines of JSON files go too: nothing explodes from
    an erased parent.
    """
    if not tombstones or contract is None:
        return 0
    references = references_for(source, contract.name)
    present = set(raw.columns)
    columns: dict[str, PersonReference] = {}
    for reference in references:
        spec = contract.column(reference.column)
        found = next((c for c in (spec.name, *spec.aliases) if c in present), None)
        if found is not None:
            columns[found] = reference
    hash_table = f"{prefix}_tombstones"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {hash_table} (hash VARCHAR)")
    con.execute(f"INSERT INTO {hash_table} SELECT unnest(?::VARCHAR[])", [sorted(tombstones.hashes)])
    erased = 0
    condition = row_match_sql(columns, hash_table, tombstones.hash_sql)
    if condition is not None:
        erased += _drop_rows(con, raw, condition, prefix)
    if raw.rejects_table is not None:
        line_condition = raw_line_match_sql(hash_table, tombstones.hash_sql)
        count = con.execute(f"SELECT count(*) FROM {raw.rejects_table} r WHERE {line_condition}").fetchone()
        dropped = int(count[0]) if count else 0
        if dropped:
            con.execute(f"DELETE FROM {raw.rejects_table} r WHERE {line_condition}")
            raw.reader_rejected -= dropped
            erased += dropped
    return erased


def _drop_rows(con: duckdb.DuckDBPyConnection, raw: RawTable, condition: str, prefix: str) -> int:
    kept = f"{prefix}_kept"
    con.execute(
        f"""CREATE TEMP TABLE {kept} AS
        SELECT r.*, {raw.row_number_sql} AS __erase_row_number, {raw.hash_sql} AS __erase_row_hash,
               coalesce({condition}, false) AS __erase
        FROM {raw.table} r ORDER BY r.rowid"""
    )
    count = con.execute(f"SELECT count(*) FROM {kept} WHERE __erase").fetchone()
    dropped = int(count[0]) if count else 0
    if not dropped:
        con.execute(f"DROP TABLE {kept}")
        return 0
    if raw.lines_table is not None:
        con.execute(
            f"DELETE FROM {raw.lines_table} WHERE _row_number IN "
            f"(SELECT __erase_row_number FROM {kept} WHERE __erase)"
        )
    con.execute(f"DELETE FROM {kept} WHERE __erase")
    raw.table = kept
    raw.row_number_sql = "r.__erase_row_number"
    raw.hash_sql = "r.__erase_row_hash"
    raw.rows -= dropped
    return dropped
