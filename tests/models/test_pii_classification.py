"""Every mart column that carries personal data is classified (``meta.pii`` in the marts' model files).

Column lineage is computed here, independently of the classification: the compiled SQL of every model in the
dbt manifest is qualified by sqlglot (sources replaced by the lake objects, whose columns are the ingest
contracts'), then each output column is traced with ``sqlglot.lineage`` back to the contract columns it is
derived from. Only value-carrying paths count: a column used in a join, a WHERE, a CASE condition, a window's
PARTITION/ORDER BY, a comparison, a count or a hash does not make the output personal (``customer_key`` is
computed by matching on e-mails but holds no e-mail). Anything sqlglot cannot qualify or trace is reported as
unresolved, so the check stays sound: a model it cannot read fails the test rather than passing silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.lineage import lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope

from ingest.contracts import load_contracts
from tests.models.conftest import BuiltWarehouse
from warehouse.config import PROJECT_ROOT
from warehouse.masking import classified_columns

LAKE_COLUMNS = ("_source_file", "_load_id", "_ingested_at", "_row_number", "_row_hash")
SNAPSHOT_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")
HASH_FUNCTIONS = {"md5", "sha256", "sha1", "hash", "md5_number"}
CATALOG = "lineage"


@dataclass
class Lineage:
    personal: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (schema, table, column)
    unresolved: list[str] = field(default_factory=list)


def value_columns(node: exp.Expression) -> set[str]:
    """'table.column' references whose values can flow into ``node``'s result."""
    found: set[str] = set()

    def visit(e: exp.Expression | None) -> None:
        if e is None:
            return
        if isinstance(e, exp.Column):
            found.add(".".join(p.name for p in e.parts))
        elif isinstance(e, exp.Predicate | exp.Not | exp.Connector | exp.Count | exp.Length | exp.Exists):
            return
        elif isinstance(e, exp.Window | exp.ArgMax | exp.ArgMin):
            visit(e.this)
        elif isinstance(e, exp.Case):
            for branch in e.args.get("ifs") or []:
                visit(branch.args.get("true"))
            visit(e.args.get("default"))
        elif isinstance(e, exp.If):
            visit(e.args.get("true"))
            visit(e.args.get("false"))
        elif isinstance(e, exp.MD5 | exp.SHA | exp.SHA2) or (
            isinstance(e, exp.Anonymous) and e.name.lower() in HASH_FUNCTIONS
        ):
            return
        else:
            for child in e.iter_expressions():
                visit(child)

    visit(node)
    return found


def trace(
    manifest: dict[str, Any], lake: dict[tuple[str, str], dict[str, str | None]], root: Path
) -> Lineage:
    """Personal contract kinds reaching every model column. ``lake``: (source, object) -> {column: pii kind}."""
    result = Lineage()
    schema: dict[str, dict[str, dict[str, str]]] = {}

    def put(db: str, table: str, columns: list[str]) -> None:
        schema.setdefault(db, {})[table] = dict.fromkeys(columns, "VARCHAR")

    replacements = {}
    for source in manifest["sources"].values():
        columns = lake.get((source["source_name"], source["name"]))
        if columns is None:
            result.unresolved.append(f"source {source['source_name']}.{source['name']}: no contract")
            continue
        db = f"lake__{source['source_name']}"
        put(db, source["name"], [*columns, *LAKE_COLUMNS])
        replacements[source["relation_name"]] = f'"{CATALOG}"."{db}"."{source["name"]}"'
        for column, kind in columns.items():
            if kind:
                result.personal[(db, source["name"], column)] = {kind}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "seed":
            with (root / node["original_file_path"]).open(encoding="utf-8") as handle:
                put(node["schema"], node["alias"] or node["name"], next(csv.reader(handle)))

    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] in ("model", "snapshot")}
    order: list[str] = []

    def visit(key: str) -> None:
        if key in order or key not in models:
            return
        for parent in models[key]["depends_on"]["nodes"]:
            visit(parent)
        order.append(key)

    for key in models:
        visit(key)
    for key in order:
        node = models[key]
        table = node["alias"] or node["name"]
        sql = node.get("compiled_code") or ""
        for relation, replacement in replacements.items():
            sql = sql.replace(relation, replacement)
        if node.get("database"):
            sql = sql.replace(f'"{node["database"]}".', f'"{CATALOG}".')
        try:
            tree = qualify(
                sqlglot.parse_one(sql, dialect="duckdb"),
                catalog=CATALOG,
                schema={CATALOG: schema},
                dialect="duckdb",
                validate_qualify_columns=True,
            )
        except Exception as exc:
            result.unresolved.append(f"{key}: cannot qualify ({type(exc).__name__}: {str(exc)[:120]})")
            continue
        names = list(tree.named_selects)
        put(
            node["schema"],
            table,
            [*names, *(SNAPSHOT_COLUMNS if node["resource_type"] == "snapshot" else ())],
        )
        scope = build_scope(tree)
        for column in names:
            try:
                root_node = lineage(
                    column, tree, schema={CATALOG: schema}, dialect="duckdb", scope=scope, copy=False
                )
            except Exception as exc:
                result.unresolved.append(f"{key}.{column}: cannot trace ({type(exc).__name__})")
                continue
            kinds: set[str] = set()
            stack = [root_node]
            while stack:
                current = stack.pop()
                if isinstance(current.expression, exp.Table):
                    source_table = current.expression
                    source_column = current.name.split(".")[-1].strip('"')
                    kinds |= result.personal.get((source_table.db, source_table.name, source_column), set())
                    continue
                expression = current.expression
                allowed = value_columns(expression.this if isinstance(expression, exp.Alias) else expression)
                short = {a.split(".")[-1] for a in allowed}
                for child in current.downstream:
                    name = child.name.replace('"', "")
                    # Branches of a UNION are named by their index; follow the branch's same-named column.
                    if name in allowed or (name.isdigit() and child.expression.alias_or_name in short):
                        stack.append(child)
            if kinds:
                result.personal[(node["schema"], table, column)] = kinds
    return result


def unclassified(
    result: Lineage, classified: dict[str, dict[str, Any]], marts_schema: str = "marts"
) -> list[str]:
    """Mart columns derived from personal data without ``meta.pii``, and everything lineage could not read."""
    missing = [
        f"{table}.{column} (derived from {', '.join(sorted(kinds))})"
        for (schema, table, column), kinds in sorted(result.personal.items())
        if schema == marts_schema and column not in classified.get(table, {})
    ]
    return missing + [f"unresolved: {u}" for u in result.unresolved]


def contract_lake() -> dict[tuple[str, str], dict[str, str | None]]:
    lake: dict[tuple[str, str], dict[str, str | None]] = {}
    for source in load_contracts().values():
        for obj in source.objects.values():
            columns = {name: None for name, _ in obj.landed_schema()}
            columns.update({c.name: c.pii for c in obj.columns})
            lake[(source.source, obj.name)] = columns
    return lake


def test_every_mart_column_derived_from_personal_data_is_classified(tiny_warehouse: BuiltWarehouse) -> None:
    import json

    manifest_path = tiny_warehouse.result.manifest_path
    assert manifest_path is not None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    result = trace(manifest, contract_lake(), PROJECT_ROOT)
    problems = unclassified(result, classified_columns(PROJECT_ROOT))
    assert not problems, (
        "classify these mart columns with meta: {pii: <kind>, sensitivity: <low|high>}:\n"
        + ("\n".join(problems))
    )
    found = {(t, c) for (s, t, c) in result.personal if s == "marts"}
    # Sanity: the lineage does find the known personal columns (else the check would pass vacuously).
    assert {
        ("dim_customer", "primary_email"),
        ("dim_customer", "customer_name"),
        ("dim_owner", "owner_name"),
    } <= found


def synthetic_manifest() -> dict[str, Any]:
    relation = "read_parquet('/lake/crm/person/*.parquet')"
    staging = (
        f"with source as (select * from {relation}) select id as person_id, lower(email) as email_address, "
        "email is not null as has_email, md5(email) as email_digest, full_name from source"
    )
    mart = (
        "select s.person_id, s.email_address, s.has_email, s.email_digest, upper(s.full_name) as display_name, "
        'count(*) over (partition by s.email_address) as same_email_people from "db"."staging"."stg_people" s'
    )
    node = {"resource_type": "model", "database": "db", "alias": None, "depends_on": {"nodes": []}}
    return {
        "sources": {
            "source.p.crm.person": {"source_name": "crm", "name": "person", "relation_name": relation}
        },
        "nodes": {
            "model.p.stg_people": {
                **node,
                "name": "stg_people",
                "schema": "staging",
                "compiled_code": staging,
            },
            "model.p.people": {
                **node,
                "name": "people",
                "schema": "marts",
                "compiled_code": mart,
                "depends_on": {"nodes": ["model.p.stg_people"]},
            },
            "model.p.broken": {
                **node,
                "name": "broken",
                "schema": "marts",
                "compiled_code": "select nope from nowhere",
            },
        },
    }


def test_the_check_reports_unclassified_and_unreadable_columns(tmp_path: Path) -> None:
    lake = {("crm", "person"): {"id": None, "email": "email", "full_name": "name"}}
    result = trace(synthetic_manifest(), lake, tmp_path)
    problems = unclassified(result, {"people": {"email_address": {}}})
    assert problems[0] == "people.display_name (derived from name)"
    assert len([p for p in problems if not p.startswith("unresolved")]) == 1
    assert any(p.startswith("unresolved: model.p.broken") for p in problems)
    # Flags, digests and window partitions carry no personal value; the classified column passes.
    traced = {c for (s, t, c) in result.personal if s == "marts"}
    assert traced == {"email_address", "display_name"}
