"""``crmwh forget``: erase a person on request from the lake, the live warehouse and every later extract.

"The person" is every record reachable from the given e-mail addresses and source ids through the
rules of :data:`ingest.tombstones.PERSON_REFERENCES`: records carrying one of their e-mails, phone
numbers or record ids (Salesforce contacts and leads, HubSpot contacts, orders, messages), then the
records those records own (tasks, events, cases, tickets, engagements, deals and their stages,
merge audits), repeated until nothing new is found. A HubSpot twin matched by the same e-mail and
the lead converted into a forgotten contact are therefore forgotten too.

Steps, under the nightly lock so that forget never runs beside a nightly:

1. append the salted hashes of every identifier found to the tombstone file (never the values), so
   that ingest drops them from later extracts even if a later step is interrupted;
2. rewrite only the affected landed and rejects Parquet files (write beside, fsync, rename) and
   update their manifest records from the files' real row counts
   (``rows_read = rows_landed + rows_rejected + rows_erased``);
3. delete the person's rows from a copy of the live DuckDB warehouse (every table of every schema,
   the ``snapshots.snp_customers`` history included), checkpoint it and rename it onto the live path.

A re-run with the same request is harmless and completes an interrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pyarrow.parquet as pq
import typer

from ingest.contracts import SourceContract, load_contracts
from ingest.manifest import read_manifest, write_record
from ingest.readers import quote_ident, quote_literal
from ingest.tombstones import (
    EMAIL_TOKEN_PATTERN,
    PERSON_REFERENCES,
    PersonReference,
    Tombstones,
    email_identifier,
    identifier_sql,
    read_tombstone_hashes,
)
from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError
from warehouse.files import fsync_path
from warehouse.locking import RunLock
from warehouse.privacy import pii_hash, pii_hash_sql

# Source ids a request may name: the objects whose rows are a person.
SOURCE_ID_OBJECTS = {
    "salesforce:contact": ("salesforce", "contact"),
    "salesforce:lead": ("salesforce", "lead"),
    "hubspot:contact": ("hubspot", "contact"),
    "billing:customer": ("billing", "order"),
}
# Record keys of the warehouse's identity resolution derived from an e-mail or phone.
DERIVED_RECORD_PREFIXES = ("billing:customer:", "contact_center:customer:")
# Raw ids shorter than this (HubSpot's numeric ids) are too likely to equal an unrelated value to be
# deleted on sight in the warehouse; they go through their namespaced form and row hashes instead.
MIN_BARE_ID_LENGTH = 10
MAX_ROUNDS = 20
REJECTS_DIR = "_rejects"


class ForgetError(WarehouseError):
    """A forget request is invalid or cannot be carried out; nothing was erased unless it says so."""


@dataclass
class FileErasure:
    path: str  # relative to the lake: source/object/load_id.parquet, never a personal value
    kind: str  # landed | rejects
    rows_before: int
    rows_erased: int


@dataclass
class ForgetReport:
    dry_run: bool
    identifiers: dict[str, int] = field(default_factory=dict)
    tombstones_added: int = 0
    files: list[FileErasure] = field(default_factory=list)
    manifest_records_updated: int = 0
    warehouse_tables: dict[str, int] = field(default_factory=dict)
    warehouse_present: bool = False
    preaggregations_rebuilt: bool = False
    publish_needed: bool = False
    inbox_files_mentioning: int = 0

    @property
    def lake_rows_erased(self) -> int:
        return sum(f.rows_erased for f in self.files)

    @property
    def warehouse_rows_erased(self) -> int:
        return sum(self.warehouse_tables.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lake_rows_erased"] = self.lake_rows_erased
        data["warehouse_rows_erased"] = self.warehouse_rows_erased
        return data

    def render(self) -> str:
        verb = "would erase" if self.dry_run else "erased"
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(self.identifiers.items())) or "nothing"
        lines = [f"crmwh forget{' --dry-run' if self.dry_run else ''}: identifiers found: {found}"]
        if not self.lake_rows_erased and not self.warehouse_rows_erased:
            lines.append("no record of this person in the lake or the warehouse")
        lines.append(f"lake: {verb} {self.lake_rows_erased} row(s) in {len(self.files)} file(s)")
        lines.extend(f"  {f.path} ({f.kind}): {f.rows_erased} of {f.rows_before}" for f in self.files)
        if self.warehouse_present:
            lines.append(
                f"warehouse: {verb} {self.warehouse_rows_erased} row(s) in {len(self.warehouse_tables)} table(s)"
            )
            lines.extend(f"  {name}: {n}" for name, n in sorted(self.warehouse_tables.items()))
            if self.preaggregations_rebuilt:
                lines.append("  cube pre-aggregations recomputed without the person")
            lines.append("  other aggregates (identity_match_quality, ...) lose the person at the next build")
        else:
            lines.append("warehouse: none built yet")
        if not self.dry_run:
            lines.append(
                f"tombstones: {self.tombstones_added} hashed identifier(s) added; later extracts land without them"
            )
        if self.inbox_files_mentioning:
            lines.append(
                f"inbox: {self.inbox_files_mentioning} extract file(s) still mention the person; ingest skips "
                "them (already landed) or drops the rows, but delete them from the inbox and its archive"
            )
        if self.publish_needed:
            lines.append(
                "PostgreSQL: the publication still holds the person until `crmwh publish` runs again: run it now"
            )
        return "\n".join(lines)


def parse_source_id(text: str) -> str:
    """``SOURCE:OBJECT:ID`` (e.g. ``salesforce:contact:0038d00000000001``) as the record key it names."""
    source, _, rest = text.strip().partition(":")
    object_name, _, record_id = rest.partition(":")
    namespace = f"{source.lower()}:{object_name.lower()}"
    if namespace not in SOURCE_ID_OBJECTS or not record_id.strip():
        known = ", ".join(f"{n}:ID" for n in SOURCE_ID_OBJECTS)
        raise ForgetError(f"--source-id {text!r}: expected one of {known}")
    return f"{namespace}:{record_id.strip()}"


def parse_email(text: str) -> str:
    value = email_identifier(text)
    if not value or "@" not in value:
        raise ForgetError(f"--email {text!r}: expected an e-mail address")
    return value


def ingest_tombstones(settings: Settings) -> Tombstones:
    """The tombstones ``ingest_paths`` must honour (pass them as ``tombstones=``)."""
    from warehouse.privacy import hash_salt

    path = settings.tombstones_path
    hashes = read_tombstone_hashes(path)
    salt = hash_salt(settings) if hashes else ""
    return Tombstones(hashes=hashes, hash_sql=lambda sql: pii_hash_sql(sql, salt))


def forget(
    settings: Settings,
    emails: list[str] | None = None,
    source_ids: list[str] | None = None,
    dry_run: bool = False,
    reapply: bool = False,
) -> ForgetReport:
    """Erase the person named by ``emails`` / ``source_ids`` (see the module docstring).

    ``reapply``: erase again everyone the tombstones name from the live warehouse, e.g. after
    ``crmwh restore`` put back a file from before an erasure (their values are found by hashing the
    warehouse's own identifiers; staging rows whose lake row is gone go too).
    """
    from warehouse.privacy import hash_salt

    seeds = {("email", parse_email(e)) for e in emails or []}
    seeds |= {("record", parse_source_id(s)) for s in source_ids or []}
    if reapply:
        seeds |= _tombstoned_in_warehouse(settings, hash_salt(settings))
    elif not seeds:
        raise ForgetError("name the person: --email ADDRESS and/or --source-id SOURCE:OBJECT:ID")
    report = ForgetReport(dry_run=dry_run, publish_needed=bool(settings.publish.dsn))
    contracts = load_contracts()
    started = datetime.now(UTC)
    with RunLock(settings.runs_dir, run_id=f"forget-{started.strftime('%Y%m%dT%H%M%S')}"):
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            files = _lake_files(settings.lake_dir, contracts)
            identifiers = _expand(con, files, seeds)
            report.identifiers = _count_kinds(identifiers)
            _load_identifiers(con, identifiers)
            erasures = _plan_files(con, files, report)
            values = _warehouse_values(con, files, identifiers)
            report.inbox_files_mentioning = _inbox_mentions(settings.inbox_dir, identifiers)
            lake_for_stale = settings.lake_dir if reapply else None
            if dry_run:
                _purge_warehouse(settings.warehouse_path, values, report, apply=False, lake=lake_for_stale)
                return report
            salt = hash_salt(settings)
            report.tombstones_added = _append_tombstones(settings, identifiers, salt, started)
            for path, erasure in erasures:
                _rewrite(con, path, erasure)
            report.manifest_records_updated = _update_manifest(settings.lake_dir, erasures, started)
            _purge_warehouse(settings.warehouse_path, values, report, apply=True, lake=lake_for_stale)
        finally:
            con.close()
    return report


@dataclass
class _ObjectFiles:
    source: str
    object: str
    references: tuple[PersonReference, ...]
    landed: list[Path]
    rejects: list[Path]
    primary_key: tuple[str, ...]


def _lake_files(lake: Path, contracts: dict[str, SourceContract]) -> list[_ObjectFiles]:
    found = []
    for (source, object_name), references in PERSON_REFERENCES.items():
        contract = contracts.get(source)
        if contract is None or object_name not in contract.objects:
            continue
        landed = sorted(
            p for p in (lake / source / object_name).glob("*.parquet") if not p.name.startswith((".", "_"))
        )
        rejects = sorted(
            p
            for p in (lake / REJECTS_DIR / source / object_name).glob("*.parquet")
            if not p.name.startswith(".")
        )
        found.append(
            _ObjectFiles(
                source, object_name, references, landed, rejects, contract.objects[object_name].primary_key
            )
        )
    return found


def _columns_of(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [
        d[0]
        for d in con.execute(f"SELECT * FROM read_parquet({quote_literal(str(path))}) LIMIT 0").description
    ]


def _present_references(
    columns: list[str], references: tuple[PersonReference, ...]
) -> dict[str, PersonReference]:
    present = set(columns)
    return {r.column: r for r in references if r.column in present}


def _identifier_rows_sql(path: Path, columns: dict[str, PersonReference]) -> list[tuple[str, str]]:
    """(kind, SQL expression) of every identifier a row of ``path`` carries."""
    found = []
    for column, reference in columns.items():
        for sql in identifier_sql(reference, f"r.{quote_ident(column)}"):
            found.append((reference.kind, sql))
    return found


def _match_sql(columns: dict[str, PersonReference], has_raw_line: bool) -> str:
    tests = [
        f"{sql} IN (SELECT value FROM forget_ids)"
        for column, reference in columns.items()
        for sql in identifier_sql(reference, f"r.{quote_ident(column)}")
    ]
    if has_raw_line:
        tokens = f"regexp_extract_all(lower(r._raw_line), '{EMAIL_TOKEN_PATTERN.lower()}')"
        tests.append(f"list_has_any({tokens}, (SELECT coalesce(list(value), []) FROM forget_ids))")
    return "coalesce(" + " OR ".join(tests) + ", false)" if tests else "false"


def _load_identifiers(con: duckdb.DuckDBPyConnection, identifiers: set[tuple[str, str]]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE forget_ids (kind VARCHAR, value VARCHAR)")
    if identifiers:
        ordered = sorted(identifiers)
        con.execute(
            "INSERT INTO forget_ids SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [[k for k, _ in ordered], [v for _, v in ordered]],
        )


def _expand(
    con: duckdb.DuckDBPyConnection, files: list[_ObjectFiles], seeds: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Every identifier of every landed record reachable from ``seeds`` (a fixed point)."""
    identifiers = set(seeds)
    for _ in range(MAX_ROUNDS):
        _load_identifiers(con, identifiers)
        found: set[tuple[str, str]] = set()
        for objects in files:
            for path in objects.landed:
                columns = _present_references(_columns_of(con, path), objects.references)
                if not columns:
                    continue
                selects = _identifier_rows_sql(path, columns)
                rows_sql = f"SELECT * FROM read_parquet({quote_literal(str(path))}) r WHERE {_match_sql(columns, False)}"
                union = " UNION ".join(
                    f"SELECT '{kind}' AS kind, {sql} AS value FROM ({rows_sql}) r" for kind, sql in selects
                )
                found |= {(k, v) for k, v in con.execute(union).fetchall() if v is not None}
        if found <= identifiers:
            return identifiers
        identifiers |= found
    raise ForgetError(
        f"the records linked to this person did not stop growing after {MAX_ROUNDS} rounds; "
        "check for a shared e-mail or phone number and name the person by --source-id instead"
    )


def _count_kinds(identifiers: set[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, _ in identifiers:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@dataclass
class _Erasure:
    relative: str
    kind: str
    condition: str
    rows_before: int
    rows_erased: int
    load_id: str
    object: str


def _plan_files(
    con: duckdb.DuckDBPyConnection, files: list[_ObjectFiles], report: ForgetReport
) -> list[tuple[Path, _Erasure]]:
    planned = []
    for objects in files:
        for kind, paths in (("landed", objects.landed), ("rejects", objects.rejects)):
            for path in paths:
                columns_present = _columns_of(con, path)
                columns = _present_references(columns_present, objects.references)
                condition = _match_sql(columns, kind == "rejects" and "_raw_line" in columns_present)
                source = quote_literal(str(path))
                total, matched = con.execute(
                    f"SELECT count(*), count(*) FILTER (WHERE {condition}) FROM read_parquet({source}) r"
                ).fetchone()
                if not matched:
                    continue
                relative = f"{objects.source}/{objects.object}/{path.name}"
                erasure = _Erasure(
                    relative, kind, condition, int(total), int(matched), path.stem, objects.object
                )
                planned.append((path, erasure))
                report.files.append(FileErasure(relative, kind, int(total), int(matched)))
    return planned


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path, erasure: _Erasure) -> None:
    """The file without the person's rows: written beside, fsynced, renamed over the original."""
    tmp = path.with_name(f".{path.name}.forget.tmp")
    con.execute(
        f"COPY (SELECT * FROM read_parquet({quote_literal(str(path))}) r WHERE NOT {erasure.condition}) "
        f"TO {quote_literal(str(tmp))} (FORMAT parquet, COMPRESSION snappy)"
    )
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def _update_manifest(lake: Path, erasures: list[tuple[Path, _Erasure]], erased_at: datetime) -> int:
    """Counts of the rewritten loads from the files themselves; what is missing from rows_read was erased."""
    records = read_manifest(lake)
    touched: dict[str, dict[str, Any]] = {}
    for _, erasure in erasures:
        record = touched.get(erasure.load_id) or records.get(erasure.load_id)
        if record is None:
            continue
        touched[erasure.load_id] = record
        entries = [record, *record.get("children", [])]
        entry = next((e for e in entries if e.get("object") == erasure.object), record)
        entry.setdefault("erasures", []).append(
            {"erased_at": erased_at.isoformat(), "kind": erasure.kind, "rows": erasure.rows_erased}
        )
    for load_id, record in touched.items():
        for entry in (record, *record.get("children", [])):
            # From the files in this lake: the paths recorded at ingest may name a lake since moved.
            relative = Path(record["source"]) / entry["object"] / f"{load_id}.parquet"
            entry["rows_landed"] = _parquet_rows(lake / relative)
            entry["rows_rejected"] = _parquet_rows(lake / REJECTS_DIR / relative)
            entry["rows_erased"] = entry["rows_read"] - entry["rows_landed"] - entry["rows_rejected"]
        write_record(lake, record)
    return len(touched)


def _parquet_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    return int(pq.ParquetFile(path).metadata.num_rows)


def _append_tombstones(
    settings: Settings, identifiers: set[tuple[str, str]], salt: str, erased_at: datetime
) -> int:
    path = settings.tombstones_path
    known = read_tombstone_hashes(path)
    lines = []
    for kind, value in sorted(identifiers):
        digest = pii_hash(value, salt)
        if digest in known:
            continue
        known = known | {digest}
        lines.append(json.dumps({"kind": kind, "hash": digest, "erased_at": erased_at.isoformat()}))
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return len(lines)


def _warehouse_values(
    con: duckdb.DuckDBPyConnection, files: list[_ObjectFiles], identifiers: set[tuple[str, str]]
) -> dict[str, set[str]]:
    """What marks the person's rows in the warehouse: row hashes of their landed rows (staging), their
    e-mails and phones, their record keys and the ids of their rows."""
    row_hashes: set[str] = set()
    strong: set[str] = set()
    for kind, value in identifiers:
        if kind == "email":
            strong.add(value)
            strong.update(prefix + value for prefix in DERIVED_RECORD_PREFIXES)
        elif kind == "phone":
            strong.add("+" + value)
            strong.update(prefix + value for prefix in DERIVED_RECORD_PREFIXES)
        else:
            strong.add(value)
    for objects in files:
        for path in objects.landed:
            names = _columns_of(con, path)
            columns = _present_references(names, objects.references)
            if not columns:
                continue
            condition = _match_sql(columns, False)
            keys = [c for c in objects.primary_key if c in names]
            phones = [c for c, r in columns.items() if r.kind == "phone"]
            picked = ", ".join(
                ["r._row_hash", *(f"CAST(r.{quote_ident(c)} AS VARCHAR)" for c in keys + phones)]
            )
            for row in con.execute(
                f"SELECT {picked} FROM read_parquet({quote_literal(str(path))}) r WHERE {condition}"
            ).fetchall():
                row_hash, *rest = row
                if row_hash:
                    row_hashes.add(row_hash)
                for value in rest[: len(keys)]:
                    if value:
                        strong.add(f"{objects.source}:{value}")
                        strong.add(f"{objects.source}:{objects.object}:{value}")
                        if len(value) >= MIN_BARE_ID_LENGTH:
                            strong.add(value)
                strong.update(v for v in rest[len(keys) :] if v)
    return {"row_hashes": row_hashes, "strong": strong}


def _purge_warehouse(
    live: Path, values: dict[str, set[str]], report: ForgetReport, apply: bool, lake: Path | None = None
) -> None:
    """Delete the person's rows from every table of a copy of the live file, then swap it in.

    ``lake``: also delete staging rows whose landed row is no longer in that lake (``--reapply``)."""
    if not live.exists():
        return
    report.warehouse_present = True
    if apply:
        work = live.with_name(f".{live.name}.forget.tmp")
        work.unlink(missing_ok=True)
        shutil.copyfile(live, work)
        con = duckdb.connect(str(work))
    else:
        con = duckdb.connect(str(live), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE forget_values (value VARCHAR)")
        _insert(con, "forget_values", values["strong"])
        con.execute("CREATE TEMP TABLE forget_row_hashes (value VARCHAR)")
        _insert(con, "forget_row_hashes", values["row_hashes"])
        customer_keys = _customer_keys(con)
        _insert(con, "forget_values", customer_keys)
        stale_test = _stale_staging_test(con, lake)
        tables = con.execute(
            """SELECT database_name, schema_name, table_name FROM duckdb_tables()
            WHERE NOT temporary AND schema_name <> 'seeds' ORDER BY 2, 3"""
        ).fetchall()
        for database, schema, table in tables:
            name = f"{quote_ident(database)}.{quote_ident(schema)}.{quote_ident(table)}"
            columns = con.execute(
                """SELECT column_name FROM duckdb_columns()
                WHERE database_name = ? AND schema_name = ? AND table_name = ? AND data_type = 'VARCHAR'""",
                [database, schema, table],
            ).fetchall()
            tests = [f"{quote_ident(c)} IN (SELECT value FROM forget_values)" for (c,) in columns]
            tests += [
                f"{quote_ident(c)} IN (SELECT value FROM forget_row_hashes)"
                for (c,) in columns
                if c in ("row_hash", "_row_hash")
            ]
            if stale_test and schema == "staging" and ("row_hash",) in columns:
                tests.append(stale_test)
            if not tests:
                continue
            condition = " OR ".join(tests)
            count = con.execute(f"SELECT count(*) FROM {name} WHERE {condition}").fetchone()[0]
            if count:
                report.warehouse_tables[f"{schema}.{table}"] = int(count)
                if apply:
                    con.execute(f"DELETE FROM {name} WHERE {condition}")
        if apply:
            report.preaggregations_rebuilt = _rebuild_preaggregations(con)
            con.execute("CHECKPOINT")
    finally:
        con.close()
    if apply:
        fsync_path(work)
        os.replace(work, live)
        fsync_path(live.parent)


def _stale_staging_test(con: duckdb.DuckDBPyConnection, lake: Path | None) -> str | None:
    """With ``--reapply``: a staging row whose landed row is no longer in the lake was erased."""
    if lake is None:
        return None
    pattern = quote_literal(str(lake / "*" / "*" / "*.parquet"))
    con.execute(
        f"""CREATE TEMP TABLE forget_lake_hashes AS
        SELECT DISTINCT _row_hash AS value FROM read_parquet({pattern}, union_by_name = true)
        WHERE _row_hash IS NOT NULL"""
    )
    return "row_hash NOT IN (SELECT value FROM forget_lake_hashes)"


def _tombstoned_in_warehouse(settings: Settings, salt: str) -> set[tuple[str, str]]:
    """Identifiers of the live warehouse's identity records whose hash is a tombstone."""
    hashes = read_tombstone_hashes(settings.tombstones_path)
    live = settings.warehouse_path
    if not hashes or not live.exists():
        return set()
    found: set[tuple[str, str]] = set()
    with duckdb.connect(str(live), read_only=True) as con:
        present = con.execute(
            """SELECT count(*) FROM duckdb_tables()
            WHERE schema_name = 'intermediate' AND table_name = 'int_identity__records'"""
        ).fetchone()[0]
        if not present:
            return found
        con.execute("CREATE TEMP TABLE forget_tombstones (hash VARCHAR)")
        _insert(con, "forget_tombstones", hashes)

        def tombstoned(sql: str) -> str:
            return f"{pii_hash_sql(sql, salt)} IN (SELECT hash FROM forget_tombstones)"

        rows = con.execute(
            f"""SELECT record_key, email_key, phone_key FROM intermediate.int_identity__records
            WHERE {tombstoned("record_key")} OR {tombstoned("email_key")} OR {tombstoned("phone_key")}"""
        ).fetchall()
    for record_key, email_key, phone_key in rows:
        if record_key and record_key.rsplit(":", 1)[0] in SOURCE_ID_OBJECTS:
            found.add(("record", record_key))
        if email_key:
            found.add(("email", email_key))
        if phone_key:
            found.add(("phone", phone_key))
    return found


def _rebuild_preaggregations(con: duckdb.DuckDBPyConnection) -> bool:
    """Pre-aggregated cube tables sum over everyone: recompute them without the person."""
    from cubes.preaggregations import PREAGG_SCHEMA, materialise

    present = con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [PREAGG_SCHEMA]
    ).fetchone()[0]
    if not present:
        return False
    materialise(con)
    return True


def _customer_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """customer_key of every identity record of the person, from the crosswalk."""
    exists = con.execute(
        """SELECT count(*) FROM duckdb_tables()
        WHERE schema_name = 'intermediate' AND table_name = 'int_identity__crosswalk'"""
    ).fetchone()[0]
    if not exists:
        return set()
    rows = con.execute(
        """SELECT DISTINCT customer_key FROM intermediate.int_identity__crosswalk
        WHERE record_key IN (SELECT value FROM forget_values) AND customer_key IS NOT NULL"""
    ).fetchall()
    return {str(k) for (k,) in rows}


def _inbox_mentions(inbox: Path, identifiers: set[tuple[str, str]]) -> int:
    """How many extract files in the inbox still contain one of the person's e-mails (bytes search)."""
    emails = [v.encode() for k, v in identifiers if k == "email"]
    if not emails or not inbox.is_dir():
        return 0
    count = 0
    for path in inbox.rglob("*"):
        if not path.is_file() or path.stat().st_size > 512 * 1024 * 1024:
            continue
        try:
            content = path.read_bytes().lower()
        except OSError:
            continue
        if any(e in content for e in emails):
            count += 1
    return count


def _insert(con: duckdb.DuckDBPyConnection, table: str, values: set[str] | frozenset[str]) -> None:
    con.execute(f"INSERT INTO {table} SELECT unnest(?::VARCHAR[])", [sorted(values)])


def register(app: typer.Typer) -> None:
    """Add ``crmwh forget`` to the CLI."""

    @app.command("forget")
    def forget_command(
        email: Annotated[
            list[str] | None, typer.Option("--email", help="E-mail address of the person (repeatable).")
        ] = None,
        source_id: Annotated[
            list[str] | None,
            typer.Option(
                "--source-id",
                help="A record of the person: salesforce:contact:ID, salesforce:lead:ID, hubspot:contact:ID "
                "or billing:customer:ID (repeatable).",
            ),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Only count what would be erased; change nothing.")
        ] = False,
        reapply: Annotated[
            bool,
            typer.Option(
                "--reapply",
                help="Erase again everyone the tombstones name from the live warehouse (after `crmwh restore`).",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Erase a person on request: the lake, the live warehouse (history included) and later extracts.

        Output holds counts only, never the personal values. Exit status: 0 done, 2 error, 75 a nightly
        run holds the lock (try again later).
        """
        from warehouse.audit import audited

        settings = load_settings(config)
        action = "dry-run" if dry_run else ("reapply" if reapply else "erase")
        with audited(settings, "forget", action) as audit:
            report = forget(settings, email or [], source_id or [], dry_run=dry_run, reapply=reapply)
            # Counts only: the identifiers themselves are personal data (their hashes are the tombstones).
            audit.details.update(
                identifiers=len(email or []) + len(source_id or []),
                tombstones_added=report.tombstones_added,
                lake_rows_erased=report.lake_rows_erased,
                warehouse_rows_erased=report.warehouse_rows_erased,
            )
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            typer.echo(report.render())
