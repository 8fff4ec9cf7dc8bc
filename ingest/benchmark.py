"""Throughput of ``crmwh ingest`` against a raw DuckDB ``COPY (SELECT * FROM read_csv(...)) TO parquet``.

Target: ingest (typing, standardising, rejects, lineage, manifest) at least half as fast as the raw
copy of the same CSV files, measured in the same run on the same machine (median of alternating runs).
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb

from ingest import standardise as std
from ingest.readers import quote_literal
from warehouse.config import PathsConfig, Settings


def run_ingest_benchmark(extract_dir: Path, work_dir: Path, repeats: int = 3) -> dict[str, Any]:
    """Ingest every CSV under ``extract_dir`` and raw-copy the same files; rows, seconds, rows/s, ratio.

    ``extract_dir`` is laid out like the inbox (``<source>/<Object>.csv``). Files are copied to
    ``work_dir`` first so the extracts themselves are never touched. Each side runs ``repeats`` times,
    taking turns (raw, ingest, raw, ingest, ...) so that a slow spell of the machine falls on both,
    each ingest into an empty lake; the figures are the medians, every run is kept beside them.
    At small scale one side lasts ~1 s, and single runs of the raw copy alone spread from 0.67 to 1.15 s.
    """
    from ingest.run import ingest_paths

    files = sorted(p for p in extract_dir.rglob("*.csv") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no CSV files under {extract_dir}")
    inbox = work_dir / "inbox"
    lake = work_dir / "lake"
    raw_dir = work_dir / "raw_copy"
    for directory in (inbox, lake, raw_dir):
        shutil.rmtree(directory, ignore_errors=True)
    copies = []
    for path in files:
        target = inbox / path.relative_to(extract_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies.append(target)
    settings = Settings(
        root=work_dir,
        paths=PathsConfig(inbox_dir=inbox, lake_dir=lake, warehouse_path=work_dir / "wh.duckdb"),
    )

    raw_runs: list[float] = []
    ingest_runs: list[float] = []
    raw_rows = 0
    for _ in range(max(1, repeats)):
        shutil.rmtree(raw_dir, ignore_errors=True)
        raw_dir.mkdir(parents=True)
        seconds, raw_rows = _raw_copy(copies, raw_dir)
        raw_runs.append(seconds)
        shutil.rmtree(lake, ignore_errors=True)
        _forget_standardised_values()
        started = time.perf_counter()
        report = ingest_paths(settings, copies)
        ingest_runs.append(time.perf_counter() - started)

    raw_seconds = statistics.median(raw_runs)
    ingest_seconds = statistics.median(ingest_runs)
    ingest_rate = report.rows_read / ingest_seconds if ingest_seconds else 0.0
    raw_rate = raw_rows / raw_seconds if raw_seconds else 0.0
    return {
        "files": len(copies),
        "bytes": sum(p.stat().st_size for p in copies),
        "repeats": len(ingest_runs),
        "ingest_rows": report.rows_read,
        "ingest_rows_landed": report.rows_landed,
        "ingest_rows_rejected": report.rows_rejected,
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_seconds_runs": [round(x, 3) for x in ingest_runs],
        "ingest_rows_per_second": round(ingest_rate),
        "raw_copy_rows": raw_rows,
        "raw_copy_seconds": round(raw_seconds, 3),
        "raw_copy_seconds_runs": [round(x, 3) for x in raw_runs],
        "raw_copy_rows_per_second": round(raw_rate),
        "ratio": round(ingest_rate / raw_rate, 3) if raw_rate else None,
    }


def _forget_standardised_values() -> None:
    """Every run standardises from scratch: the library results cached by the run before would flatter it."""
    for cached in (std.standardise_email, std.standardise_phone, std.country_code, std.currency_code):
        cached.cache_clear()


def _raw_copy(copies: list[Path], raw_dir: Path) -> tuple[float, int]:
    """Seconds and rows of DuckDB's own CSV -> Parquet copy of every file, one after the other."""
    con = duckdb.connect()
    started = time.perf_counter()
    rows = 0
    for index, path in enumerate(copies):
        result = con.execute(
            f"COPY (SELECT * FROM read_csv({quote_literal(str(path))})) "
            f"TO {quote_literal(str(raw_dir / f'{index}.parquet'))} (FORMAT parquet)"
        ).fetchone()
        rows += int(result[0]) if result else 0
    seconds = time.perf_counter() - started
    con.close()
    return seconds, rows


def write_synthetic_extracts(directory: Path, rows: int, seed: float = 0.42) -> list[Path]:
    """CSV extracts with realistic shape and ~1% dirt (bad amounts, emails, countries), for benchmarks."""
    (directory / "billing").mkdir(parents=True, exist_ok=True)
    (directory / "salesforce").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed})")
    orders = directory / "billing" / "orders.csv"
    con.execute(
        f"""COPY (
        SELECT 'O-' || i AS order_id, 'C-' || (i % {max(rows // 3, 1)}) AS customer_id,
          CASE WHEN random() < 0.01 THEN 'broken-email' ELSE 'user' || (i % {max(rows // 3, 1)}) || '@example.com' END
            AS customer_email,
          '+1 415 555 ' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') AS customer_phone,
          'Customer ' || i AS customer_name,
          (['US', 'USA', 'Germany', 'FR', 'United Kingdom', 'Atlantis'])[1 + CAST(floor(random() * 6) AS INT)]
            AS country,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 37 AS BIGINT)), '%Y-%m-%dT%H:%M:%SZ') AS order_date,
          (['paid', 'refunded', 'pending'])[1 + CAST(floor(random() * 3) AS INT)] AS status,
          CASE WHEN random() < 0.01 THEN 'N/A' ELSE '$' || printf('%.2f', random() * 1000) END AS amount,
          printf('%.2f', random() * 500) AS cost,
          (['USD', 'EUR', 'gbp'])[1 + CAST(floor(random() * 3) AS INT)] AS currency,
          'web' AS sales_channel, CAST(1 + floor(random() * 5) AS INT) AS item_count,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 41 AS BIGINT)), '%Y-%m-%d %H:%M:%S') AS updated_at
        FROM range({rows}) t(i)) TO {quote_literal(str(orders))} (HEADER, DELIMITER ',')"""
    )
    tasks = directory / "salesforce" / "Task.csv"
    con.execute(
        f"""COPY (
        SELECT '00T' || lpad(CAST(i AS VARCHAR), 12, '0') AS Id, '003' || (i % 5000) AS WhoId,
          '006' || (i % 3000) AS WhatId, '001' || (i % 2000) AS AccountId, '005' || (i % 50) AS OwnerId,
          'Call ' || i AS Subject, 'Call' AS Type, 'Call' AS TaskSubtype, 'Outbound' AS CallType,
          'Completed' AS Status, 'Normal' AS Priority,
          strftime(DATE '2024-01-01' + CAST(i % 700 AS INT), '%Y-%m-%d') AS ActivityDate,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 53 AS BIGINT)), '%Y-%m-%dT%H:%M:%S.000Z')
            AS CompletedDateTime,
          CAST(floor(random() * 900) AS INT) AS CallDurationInSeconds,
          'Talked about "renewal", next steps' AS Description, 'false' AS IsDeleted,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 53 AS BIGINT)), '%Y-%m-%dT%H:%M:%S.000Z')
            AS CreatedDate,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 59 AS BIGINT)), '%Y-%m-%dT%H:%M:%S.000Z')
            AS LastModifiedDate,
          strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(i * 59 AS BIGINT)), '%Y-%m-%dT%H:%M:%S.000Z')
            AS SystemModstamp
        FROM range({rows}) t(i)) TO {quote_literal(str(tasks))} (HEADER, DELIMITER ',')"""
    )
    con.close()
    return [orders, tasks]


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    with tempfile.TemporaryDirectory() as tmp:
        extracts = Path(tmp) / "extracts"
        write_synthetic_extracts(extracts, rows)
        print(json.dumps(run_ingest_benchmark(extracts, Path(tmp) / "work"), indent=2))
