"""Readers: turn one extract file into a DuckDB temp table of VARCHAR columns, losing nothing.

Every reader yields a :class:`RawTable`: one VARCHAR column per source field (names normalised to
snake_case), ``_row_number`` and ``_row_hash`` (md5 of the raw record), plus a table of the records
the reader itself could not parse (malformed CSV lines, invalid JSON lines) with a reason each.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest.contracts import ObjectContract
from ingest.errors import UnreadableFileError
from ingest.names import snake_case, unique_names

SNIFF_BYTES = 64 * 1024
# Errors that mean "this file cannot be read"; anything else is a bug and must surface.
READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException)
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class RawTable:
    table: str
    columns: list[str]
    rows: int
    rejects_table: str | None = None
    reader_rejected: int = 0
    # Columns whose content a contract path or explode already lands; kept, never called drift.
    quiet_columns: set[str] = field(default_factory=set)
    lines_table: str | None = None
    # SQL over the raw table aliased ``r``: computed at write time so the raw table is the only copy.
    row_number_sql: str = "r._row_number"
    hash_sql: str = "r._row_hash"

    @property
    def rows_read(self) -> int:
        return self.rows + self.reader_rejected


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sniff_encoding(path: Path, compression: str | None, declared: str, empty_ok: bool = False) -> str:
    """The encoding to read with: BOMs win over the contract, binary content is refused. An empty file
    is refused unless ``empty_ok`` (JSON Lines: a day without records is an empty file, not a broken one;
    a CSV without even its header line cannot be checked against its contract)."""
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as handle:
                head = handle.read(SNIFF_BYTES)
        else:
            with path.open("rb") as handle:
                head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(f"truncated or corrupt gzip archive: {exc}") from None
    if not head:
        if empty_ok:
            return declared
        raise UnreadableFileError("empty file (not even a header line)")
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    if b"\x00" in head:
        raise UnreadableFileError("binary content (NUL bytes) in a text file")
    return declared


def check_gzip_complete(path: Path) -> None:
    """Read a .gz to its end: a truncated archive must be quarantined, not half landed."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(8 * 1024 * 1024):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(f"truncated or corrupt gzip archive: {exc}") from None


def row_hash_sql(columns: list[str], alias: str | None = None) -> str:
    """md5 of the record's raw values (NULL and empty kept apart)."""
    if not columns:
        return "md5('')"
    qualify = f"{alias}." if alias else ""
    parts = ", ".join(f"coalesce(CAST({qualify}{quote_ident(c)} AS VARCHAR), chr(0))" for c in columns)
    return f"md5(concat_ws(chr(31), {parts}))"


def read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, prefix: str, encoding: str, max_line_bytes: int
) -> RawTable:
    options = (
        f"{quote_literal(str(path))}, header=true, all_varchar=true, encoding={quote_literal(encoding)}, "
        f"max_line_size={max_line_bytes}, null_padding=false"
    )
    rejects = f"store_rejects=true, rejects_table='{prefix}_rej', rejects_scan='{prefix}_scan'"
    # One read (and one dialect sniff): columns are renamed afterwards, which is metadata only.
    try:
        con.execute(f"CREATE TEMP TABLE {prefix}_raw AS SELECT * FROM read_csv({options}, {rejects})")
    except READ_ERRORS as exc:
        raise UnreadableFileError(f"not readable as CSV: {_first_line(exc)}") from None
    headers = [d[0] for d in con.execute(f"SELECT * FROM {prefix}_raw LIMIT 0").description]
    names = unique_names([snake_case(h) for h in headers])
    rename_columns(con, f"{prefix}_raw", headers, names)
    _refuse_bad_encoding(con, prefix, encoding)
    con.execute(
        f"""CREATE TEMP TABLE {prefix}_readrej AS
        SELECT CAST(line AS BIGINT) AS _row_number, first(csv_line) AS _raw_line,
               md5(first(csv_line)) AS _row_hash,
               'malformed CSV line ' || line || ': '
                 || string_agg(DISTINCT lower(error_type) || ' (' || error_message || ')', '; ')
                 AS _reject_reason
        FROM {prefix}_rej GROUP BY line"""
    )
    table = _finish(con, prefix, names)
    # rowid follows the file's record order (insertion order is preserved).
    table.row_number_sql = "CAST(r.rowid + 1 AS BIGINT)"
    table.hash_sql = row_hash_sql(names, alias="r")
    return table


def rename_columns(con: duckdb.DuckDBPyConnection, table: str, old: list[str], new: list[str]) -> None:
    """Rename ``old`` to ``new`` columns; swapped or chained names never clash.

    A column whose new name no other column holds (DuckDB compares names case-insensitively) is renamed
    at once; the others go through a temporary name first. One ALTER costs ~0.4 ms, and a Salesforce
    object has dozens of columns to rename, nearly all of them free to take their name directly.
    """
    current = [name.lower() for name in old]
    taken = set(current) | {name.lower() for name in new}
    staged = []
    for index, (source, target) in enumerate(zip(old, new, strict=True)):
        if source == target:
            continue
        if target.lower() not in current[:index] + current[index + 1 :]:
            con.execute(f"ALTER TABLE {table} RENAME COLUMN {quote_ident(source)} TO {quote_ident(target)}")
            current[index] = target.lower()
            continue
        temporary = f"__rename_{index}"
        while temporary in taken:
            temporary += "_"
        taken.add(temporary)
        con.execute(f"ALTER TABLE {table} RENAME COLUMN {quote_ident(source)} TO {quote_ident(temporary)}")
        current[index] = temporary
        staged.append((temporary, target))
    for temporary, target in staged:
        con.execute(f"ALTER TABLE {table} RENAME COLUMN {quote_ident(temporary)} TO {quote_ident(target)}")


def read_json_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    prefix: str,
    encoding: str,
    max_line_bytes: int,
    contract: ObjectContract | None,
    consumed: frozenset[str] = frozenset(),
) -> RawTable:
    """JSON Lines, one record per line; read as text so one bad line is one rejected row."""
    try:
        con.execute(
            f"""CREATE TEMP TABLE {prefix}_text AS
            SELECT line FROM read_csv({quote_literal(str(path))}, columns={{'line': 'VARCHAR'}},
                header=false, delim=chr(1), quote='', escape='', auto_detect=false,
                encoding={quote_literal(encoding)}, max_line_size={max_line_bytes}, store_rejects=true,
                rejects_table='{prefix}_rej', rejects_scan='{prefix}_scan')"""
        )
    except READ_ERRORS as exc:
        raise UnreadableFileError(f"not readable as JSON Lines: {_first_line(exc)}") from None
    _refuse_bad_encoding(con, prefix, encoding)
    # rowid follows the file's line order: _row_number is the line number.
    con.execute(
        f"CREATE TEMP TABLE {prefix}_lines AS SELECT CAST(rowid + 1 AS BIGINT) AS _row_number, line "
        f"FROM {prefix}_text"
    )
    con.execute(f"DELETE FROM {prefix}_lines WHERE line IS NULL OR trim(line) = ''")
    return _flatten_json(con, prefix, contract, reader_rejects=f"{prefix}_rej", consumed=consumed)


def read_json_array(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    prefix: str,
    contract: ObjectContract | None,
    consumed: frozenset[str] = frozenset(),
) -> RawTable:
    """A JSON document holding an array of records (or one record)."""
    try:
        con.execute(
            f"""CREATE TEMP TABLE {prefix}_lines AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS _row_number, CAST(json AS VARCHAR) AS line
            FROM read_json_objects({quote_literal(str(path))}, format='auto')"""
        )
    except READ_ERRORS as exc:
        raise UnreadableFileError(f"not a readable JSON document: {_first_line(exc)}") from None
    return _flatten_json(con, prefix, contract, reader_rejects=None, consumed=consumed)


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path, prefix: str) -> RawTable:
    source = f"read_parquet({quote_literal(str(path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except READ_ERRORS as exc:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_line(exc)}") from None
    fields = [(row[0], str(row[1])) for row in described if row[0] != "file_row_number"]
    names = unique_names([snake_case(name) for name, _ in fields])
    casts = []
    for (name, sql_type), target in zip(fields, names, strict=True):
        nested = any(token in sql_type for token in ("STRUCT", "MAP", "[]", "UNION"))
        expr = (
            f"CAST(to_json({quote_ident(name)}) AS VARCHAR)"
            if nested
            else f"CAST({quote_ident(name)} AS VARCHAR)"
        )
        casts.append(f"{expr} AS {quote_ident(target)}")
    try:
        con.execute(
            f"CREATE TEMP TABLE {prefix}_raw AS SELECT {', '.join(casts) or '1 AS _empty'}, "
            f"CAST(file_row_number + 1 AS BIGINT) AS _row_number FROM {source}"
        )
    except READ_ERRORS as exc:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_line(exc)}") from None
    con.execute(
        f"CREATE TEMP TABLE {prefix}_readrej (_row_number BIGINT, _raw_line VARCHAR, _row_hash VARCHAR, "
        "_reject_reason VARCHAR)"
    )
    table = _finish(con, prefix, names)
    table.hash_sql = row_hash_sql(names, alias="r")
    return table


def explode_children(
    con: duckdb.DuckDBPyConnection,
    parent: RawTable,
    parent_contract: ObjectContract,
    child: ObjectContract,
    prefix: str,
) -> RawTable:
    """One child row per element of the list at ``child.explode_from.path`` in each parent record."""
    explode = child.explode_from
    assert explode is not None and parent.lines_table is not None
    key_column = parent_contract.column(parent_contract.primary_key[0])
    key_path = key_column.path or f'$."{key_column.name}"'
    list_path = explode.path if explode.path.endswith("[*]") else explode.path + "[*]"
    # Child rows are numbered in file order (parent row, then position in the list) so that
    # _row_number stays unique per load; the parent is reachable through the parent key.
    con.execute(
        f"""CREATE TEMP TABLE {prefix}_lines AS
        SELECT CAST(row_number() OVER (ORDER BY _row_number, _position) AS BIGINT) AS _row_number,
               parent_key, CAST(element AS VARCHAR) AS line
        FROM (
          SELECT _row_number, parent_key, unnest(elements) AS element,
                 unnest(range(1, len(elements) + 1)) AS _position
          FROM (
            SELECT _row_number, json_extract_string(line, {quote_literal(key_path)}) AS parent_key,
                   json_extract(line, {quote_literal(list_path)}) AS elements
            FROM {parent.lines_table}
            WHERE coalesce(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END, false)))"""
    )
    return _flatten_json(con, prefix, child, reader_rejects=None, parent_key=explode.parent_key)


def _flatten_json(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    contract: ObjectContract | None,
    reader_rejects: str | None,
    parent_key: str | None = None,
    consumed: frozenset[str] = frozenset(),
) -> RawTable:
    """Top-level keys -> snake_case columns, ``properties`` -> ``property_<name>``, contract paths picked."""
    lines = f"{prefix}_lines"
    con.execute(
        f"""CREATE TEMP TABLE {prefix}_valid AS
        SELECT *, coalesce(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END, false) AS _ok FROM {lines}"""
    )
    keys = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT unnest(json_keys(line)) AS k FROM {prefix}_valid WHERE _ok ORDER BY k"
        ).fetchall()
    ]
    property_keys: list[str] = []
    if "properties" in keys:
        property_keys = [
            row[0]
            for row in con.execute(
                f"""SELECT DISTINCT unnest(json_keys(json_extract(line, '$.properties'))) AS k
                FROM {prefix}_valid WHERE _ok AND json_type(line, '$.properties') = 'OBJECT' ORDER BY k"""
            ).fetchall()
        ]
    path_columns = [c for c in contract.columns if c.path] if contract else []
    consumed_roots = {path_root(c.path) for c in path_columns if c.path} | consumed
    paths: list[str] = [c.path for c in path_columns if c.path]
    wanted: list[str] = [c.name for c in path_columns]
    quiet_positions: set[int] = set()
    for key in keys:
        if key == "properties" and property_keys:
            continue
        if key in consumed_roots:
            quiet_positions.add(len(wanted))
        paths.append(f"$.{_json_key(key)}")
        wanted.append(snake_case(key))
    for key in property_keys:
        paths.append(f"$.properties.{_json_key(key)}")
        wanted.append("property_" + snake_case(key))
    names = unique_names(([parent_key] if parent_key else []) + wanted)
    data_names = names[1:] if parent_key else names
    quiet = {data_names[i] for i in quiet_positions}
    path_list = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    extracted = ", ".join(f"_v[{i + 1}] AS {quote_ident(n)}" for i, n in enumerate(data_names))
    parent_select = f"parent_key AS {quote_ident(parent_key)}, " if parent_key else ""
    body = (
        f"SELECT {parent_select}{extracted}{', ' if extracted else ''}_row_number, md5(line) AS _row_hash "
        f"FROM (SELECT *, json_extract_string(line, {path_list}) AS _v FROM {prefix}_valid WHERE _ok)"
        if paths
        else f"SELECT {parent_select}_row_number, md5(line) AS _row_hash FROM {prefix}_valid WHERE _ok"
    )
    con.execute(f"CREATE TEMP TABLE {prefix}_raw AS {body}")
    malformed = (
        f"""UNION ALL
        SELECT CAST(line AS BIGINT), first(csv_line), md5(first(csv_line)),
               'malformed line ' || line || ': ' || string_agg(DISTINCT error_message, '; ')
        FROM {reader_rejects} GROUP BY line"""
        if reader_rejects
        else ""
    )
    con.execute(
        f"""CREATE TEMP TABLE {prefix}_readrej AS
        SELECT _row_number, line AS _raw_line, md5(line) AS _row_hash,
               CASE WHEN json_valid(line) THEN 'not a JSON object' ELSE 'invalid JSON' END AS _reject_reason
        FROM {prefix}_valid WHERE NOT _ok
        {malformed}"""
    )
    table = _finish(con, prefix, names)
    table.quiet_columns = quiet
    table.lines_table = lines
    return table


def _refuse_bad_encoding(con: duckdb.DuckDBPyConnection, prefix: str, encoding: str) -> None:
    """A file not valid in its encoding is unreadable as a whole: guessing would corrupt text."""
    line = con.execute(
        f"SELECT min(line) FROM {prefix}_rej WHERE upper(error_type) LIKE '%ENCODING%' "
        "OR upper(error_type) LIKE '%UNICODE%'"
    ).fetchone()[0]
    if line is not None:
        raise UnreadableFileError(
            f"not valid {encoding} text (first bad line {line}); if the source writes Latin-1, "
            "declare `encoding: latin-1` in its contract"
        )


def _finish(con: duckdb.DuckDBPyConnection, prefix: str, names: list[str]) -> RawTable:
    rows = con.execute(f"SELECT count(*) FROM {prefix}_raw").fetchone()[0]
    rejected = con.execute(f"SELECT count(*) FROM {prefix}_readrej").fetchone()[0]
    return RawTable(
        table=f"{prefix}_raw",
        columns=names,
        rows=rows,
        rejects_table=f"{prefix}_readrej",
        reader_rejected=rejected,
    )


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def path_root(path: str) -> str:
    rest = path[2:] if path.startswith("$.") else path[1:]
    for stop in (".", "["):
        rest = rest.split(stop, 1)[0]
    return rest.strip('"')


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
