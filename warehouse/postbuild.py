"""What a warehouse needs after dbt: lifetime-value models refitted, cube views, pre-aggregations.

Runs on the file that dbt just built (the nightly's new file, before it is published), in one
connection, and checkpoints so the file is complete on disk without its write-ahead log.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from warehouse.config import Settings

# The cap dbt's DuckDB runs under (profiles.yml). Without one DuckDB takes 80 % of RAM and the
# pre-aggregations and PII tables grew the build's peak from 4.3 GB (dbt) to 6.7 GB at large scale.
DEFAULT_MEMORY_LIMIT = "4GB"


def memory_limit() -> str:
    return os.environ.get("CRMWH_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)


def finish_warehouse(warehouse_path: Path, settings: Settings, as_of: date | None = None) -> dict[str, Any]:
    """Fit BG/NBD + Gamma-Gamma, create the `cubes` views, materialise pre-aggregations."""
    from cubes.lifetime_value import fit_and_store
    from cubes.preaggregations import materialise
    from cubes.views import create_views
    from warehouse.masking import create_bi_schema

    timings: dict[str, Any] = {}
    with duckdb.connect(str(warehouse_path), config={"memory_limit": memory_limit()}) as con:
        started = time.perf_counter()
        fit = fit_and_store(
            con,
            as_of=as_of,
            time_unit=settings.lifetime_value.time_unit,
            horizon_days=settings.lifetime_value.horizon_days,
        )
        timings["lifetime_value_seconds"] = round(time.perf_counter() - started, 2)
        timings["lifetime_value"] = fit.to_dict()
        started = time.perf_counter()
        timings["views"] = create_views(con)
        timings["preaggregations"] = materialise(con)
        timings["cube_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        timings["bi"] = create_bi_schema(con, settings)
        timings["bi_seconds"] = round(time.perf_counter() - started, 2)
        con.execute("checkpoint")
    return timings
