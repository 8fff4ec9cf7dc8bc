"""Which mart columns hold personal data, and the ``bi`` schema where they are hashed.

Classification lives in the dbt project: a mart column carrying personal data has ``meta: {pii: <kind>,
sensitivity: <low|high>}`` in ``models/marts/**/_*__models.yml`` (the kinds of the ingest contracts;
``tests/models/test_pii_classification.py`` fails when a mart column derived from a personal contract column has
none). Cube levels inherit it from the column they read, so cube definitions need no marker of their own.

``create_bi_schema`` (run after dbt, by post-build) writes schema ``bi``: one object per mart and per cube view,
same names and columns, where every classified column holds ``warehouse.privacy.pii_hash`` of its value. Marts
with a classified column are materialised tables, the hashes computed while writing them, so no view text
carries the salt; the other marts are plain views on ``marts``, and the cube views read the hashed tables.
Keys and measures are untouched, so every count, distinct count and sum through ``bi`` equals ``marts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml
from sqlglot import exp

from ingest.contracts import YAML_LOADER
from warehouse.config import Settings
from warehouse.errors import ConfigError
from warehouse.privacy import hash_salt, pii_hash, pii_hash_sql

BI_SCHEMA = "bi"
MARTS_SCHEMA = "marts"
MART_MODEL_FILES = "models/marts/**/_*__models.yml"
PII_KINDS = ("email", "phone", "name", "address", "free_text")
SENSITIVITIES = ("low", "high")


@dataclass(frozen=True)
class Classification:
    kind: str
    sensitivity: str


Classified = dict[str, dict[str, Classification]]


def classified_columns(project_root: Path) -> Classified:
    """``{mart table: {column: Classification}}`` from the ``meta.pii`` of the marts' model files."""
    found: Classified = {}
    for path in sorted(project_root.glob(MART_MODEL_FILES)):
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                meta = column.get("meta") or (column.get("config") or {}).get("meta") or {}
                if "pii" not in meta:
                    continue
                where = f"{path.name}: {model.get('name')}.{column.get('name')}"
                kind, sensitivity = meta["pii"], meta.get("sensitivity", "high")
                if kind not in PII_KINDS:
                    raise ConfigError(f"{where}: meta.pii {kind!r} is not one of {', '.join(PII_KINDS)}")
                if sensitivity not in SENSITIVITIES:
                    raise ConfigError(f"{where}: meta.sensitivity {sensitivity!r} is not low or high")
                found.setdefault(model["name"], {})[column["name"]] = Classification(kind, sensitivity)
    return found


def _mart_name(table: str) -> str | None:
    schema, _, name = table.rpartition(".")
    return name if schema in ("", MARTS_SCHEMA) else None


def classified_levels(cube: object, classified: Classified) -> dict[str, Classification]:
    """``{'dimension.level': Classification}`` of a cube's levels that read a classified mart column."""
    found: dict[str, Classification] = {}
    for dim in cube.dimensions.values():  # type: ignore[attr-defined]
        if dim.table is not None:
            tables = [dim.table.table]
        else:
            tables = [cube.facts[f].table for f in dim.joins if f in cube.facts]  # type: ignore[attr-defined]
        for level in dim.levels.values():
            for table in tables:
                name = _mart_name(table)
                marker = classified.get(name or "", {}).get(level.column)
                if marker is not None:
                    found[f"{dim.name}.{level.name}"] = marker
    return found


def classified_view_columns(cube: object, classified: Classified) -> dict[str, Classification]:
    """Columns of the cube's view (``<dimension>_<level>``, see cubes.views) holding personal data."""
    return {
        address.replace(".", "_", 1): marker
        for address, marker in classified_levels(cube, classified).items()
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]


def masked_select(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, Classification], salt: str
) -> str:
    """SELECT of ``marts.<table>`` with each classified column replaced by its hash (same name, varchar)."""
    described = con.execute(f"describe select * from {MARTS_SCHEMA}.{_quote(table)}").fetchall()
    outputs = []
    for name, *_ in described:
        source = f"t.{_quote(name)}"
        outputs.append(f"{pii_hash_sql(source, salt) if name in columns else source} as {_quote(name)}")
    return f"select {', '.join(outputs)} from {MARTS_SCHEMA}.{_quote(table)} t"


def create_bi_schema(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    cubes: dict[str, object] | None = None,
    classified: Classified | None = None,
) -> list[str]:
    """(Re)create schema ``bi``; returns the objects written (``bi.<name>``)."""
    from cubes.definitions import default_cubes
    from cubes.views import view_sql

    cubes = cubes if cubes is not None else default_cubes()
    classified = classified if classified is not None else classified_columns(settings.root)
    salt = hash_salt(settings)
    con.execute(f"drop schema if exists {BI_SCHEMA} cascade")
    con.execute(f"create schema {BI_SCHEMA}")
    written: list[str] = []
    hashed_tables: set[str] = set()
    for table in _mart_tables(con):
        target = f"{BI_SCHEMA}.{_quote(table)}"
        columns = classified.get(table, {})
        if columns:
            con.execute(f"create table {target} as {masked_select(con, table, columns, salt)}")
            hashed_tables.add(table)
        else:
            con.execute(f"create view {target} as select * from {MARTS_SCHEMA}.{_quote(table)}")
        written.append(f"{BI_SCHEMA}.{table}")
    for cube in cubes.values():
        select = view_sql(cube).copy()  # type: ignore[arg-type]
        for source in select.find_all(exp.Table):
            if source.db == MARTS_SCHEMA and source.name in hashed_tables:
                source.set("db", exp.to_identifier(BI_SCHEMA, quoted=True))
        name = cube.name  # type: ignore[attr-defined]
        if name in _mart_tables(con):
            raise ConfigError(f"cube {name} has the name of a mart; rename the cube to create its bi view")
        target_view = exp.table_(name, db=BI_SCHEMA, quoted=True)
        con.execute(exp.Create(this=target_view, kind="VIEW", expression=select, replace=True).sql("duckdb"))
        written.append(f"{BI_SCHEMA}.{name}")
    return written


def masked_query_problem(query: object, personal: dict[str, Classification]) -> str | None:
    """Why a reader who sees personal data only hashed cannot run ``query`` (a drilled cube query), or None.

    Such a reader may group by a personal level (and gets hashes), but not filter, order or pivot on its clear
    values: a filter answers whether a named person is in the data, a pivot makes the values column names."""
    for f in query.filters:  # type: ignore[attr-defined]
        if f.level in personal:
            return f"filtering on {f.level}"
    for level in query.columns:  # type: ignore[attr-defined]
        if level in personal:
            return f"pivoting on {level}"
    for order in query.order:  # type: ignore[attr-defined]
        if order.field in personal:
            return f"ordering by {order.field}"
    return None


def hash_personal_columns(table: pa.Table, personal: dict[str, Classification], salt: str) -> pa.Table:
    """The answer with every column named by a personal level address replaced by its hashes."""
    for index, name in enumerate(table.column_names):
        if name in personal:
            values = [None if v is None else pii_hash(str(v), salt) for v in table.column(index).to_pylist()]
            table = table.set_column(index, pa.field(name, pa.string()), pa.array(values, pa.string()))
    return table
