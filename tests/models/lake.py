"""A hand-made Parquet lake shaped like the one `crmwh ingest` writes.

Each object directory gets the zero-row ``_empty.parquet`` with the contract schema plus the
lineage columns, and the given rows in ``<name>.parquet``. Column types follow the contracts in
ingest/contracts/*.yml, so staging reads this lake exactly like a landed one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "ingest" / "contracts"
DUCKDB_TYPES = {
    "string": "varchar",
    "timestamp": "timestamp",
    "date": "date",
    "boolean": "boolean",
    "integer": "bigint",
    "decimal": "decimal(18, 4)",
    "double": "double",
}
LINEAGE = {
    "_source_file": "varchar",
    "_load_id": "varchar",
    "_ingested_at": "timestamp",
    "_row_number": "bigint",
    "_row_hash": "varchar",
}


def contract_columns() -> dict[tuple[str, str], dict[str, str]]:
    """(source, object) -> {column: duckdb type} from the ingest contracts."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted(CONTRACTS_DIR.glob("*.yml")):
        contract = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, spec in contract["objects"].items():
            columns = {col: DUCKDB_TYPES[c["type"]] for col, c in spec["columns"].items()}
            found[(contract["source"], name)] = {**columns, **LINEAGE}
    return found


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def write_lake(
    lake_dir: Path,
    rows: dict[tuple[str, str], list[dict[str, Any]]],
    *,
    file_name: str = "extract_1",
    ingested_at: datetime = datetime(2025, 1, 1),
) -> None:
    """Write the empty schema file of every object and a Parquet file per object with rows."""
    columns_of = contract_columns()
    con = duckdb.connect()
    try:
        for (source, obj), columns in columns_of.items():
            directory = lake_dir / source / obj
            directory.mkdir(parents=True, exist_ok=True)
            typed_nulls = ", ".join(f"cast(null as {t}) as {c}" for c, t in columns.items())
            empty = directory / "_empty.parquet"
            if not empty.exists():
                con.execute(f"copy (select {typed_nulls} limit 0) to '{empty}' (format parquet)")
            object_rows = rows.get((source, obj), [])
            if not object_rows:
                continue
            selects = []
            for number, row in enumerate(object_rows, start=1):
                unknown = set(row) - set(columns)
                if unknown:
                    raise ValueError(f"{source}.{obj}: no contract column(s) {sorted(unknown)}")
                lineage = {
                    "_source_file": f"{file_name}.{obj}",
                    "_load_id": file_name,
                    "_ingested_at": ingested_at.isoformat(sep=" "),
                    "_row_number": number,
                    "_row_hash": hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:16],
                }
                values = {**row, **lineage}
                selects.append(
                    "select "
                    + ", ".join(f"cast({_literal(values.get(c))} as {t}) as {c}" for c, t in columns.items())
                )
            target = directory / f"{file_name}.parquet"
            con.execute(f"copy ({' union all '.join(selects)}) to '{target}' (format parquet)")
    finally:
        con.close()
