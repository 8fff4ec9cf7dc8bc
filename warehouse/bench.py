"""`make bench`: throughput, build times, peak memory and query latency, each against a reference
measured in the same run.

For each scale (small and medium by default; `make bench SCALES="small medium large"`):
1. generate the extracts (timed);
2. ingest every CSV with crmwh and, on the same files, DuckDB's raw `COPY ... TO parquet` (rows/s, ratio);
3. full build of the warehouse (dbt + lifetime value + cube pre-aggregations) in a child process
   (wall time, peak RSS of that process, and where the time went: dbt, lifetime value, cubes, `bi`
   tables, the slowest dbt nodes);
4. the fixed set of 50 cube queries against hand-written DuckDB SQL (p50/p95, overhead ratio);
5. the HTTP API with 8 concurrent clients on the same queries (throughput, p50/p95);
6. a PostgreSQL publish to a throw-away server from the OS packages;
7. one more day of extracts, then `crmwh nightly` (ingest, incremental build, publish by rename).
Results are printed and written to `<runs_dir>/../bench/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from warehouse.config import PROJECT_ROOT, load_settings

console = Console()
DEFAULT_END = date(2026, 11, 15)


# The child is started by a fresh, small interpreter that waits for it and prints its peak: Linux
# gives an exec'ed child the peak RSS of the process it was forked from, so measured from here (this
# process held 7.6 GB after generating the large extracts) every child "peaked" at the bench's own size.
_LAUNCHER = """
import json, os, subprocess, sys, time
log = open(sys.argv[1], "a", encoding="utf-8")
out = open(sys.argv[2], "w", encoding="utf-8") if sys.argv[2] else log
started = time.perf_counter()
child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=log)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
print(json.dumps([wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
"""


def run_measured(
    command: list[str], env: dict[str, str], log: str = os.devnull, stdout_path: str = ""
) -> tuple[float, float, int]:
    """Run ``command``; return (wall seconds, peak RSS of that process in MB, exit code).

    Its stderr goes to ``log``, its stdout too unless ``stdout_path`` names a file of its own."""
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, log, stdout_path, *command],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, peak, code = json.loads(launched.stdout)
    return wall, peak, code


def _crmwh(args: list[str], env: dict[str, str], stdout_path: str = "") -> tuple[float, float]:
    """Run a crmwh command in a child process; return (wall seconds, peak RSS of that child in MB)."""
    log = env.get("CRMWH_BENCH_LOG", os.devnull)
    wall, peak, code = run_measured([sys.executable, "-m", "warehouse.cli", *args], env, log, stdout_path)
    if code not in (0, 1):
        raise RuntimeError(f"crmwh {' '.join(args)} exited with {code}; see {log}")
    return wall, peak


def build_summary(stdout: str) -> dict[str, Any]:
    """The JSON summary `crmwh build --json` prints last (dbt's own error lines, under --quiet, may
    come before it)."""
    start = stdout.find('{\n  "status"')
    if start < 0:
        return {}
    summary: dict[str, Any] = json.loads(stdout[start:])
    return summary


def build_steps(summary: dict[str, Any], slowest: int = 5) -> dict[str, Any]:
    """Where a full build's time went, from `crmwh build --json`: dbt's elapsed time, the seconds its
    models and data tests worked (over all dbt threads, from run_results.json), the slowest nodes, and the
    post-build steps (lifetime value, cube views and pre-aggregations, `bi` tables)."""
    post = summary.get("post_build") or {}
    steps: dict[str, Any] = {
        "dbt": summary.get("elapsed_seconds"),
        "lifetime_value": post.get("lifetime_value_seconds"),
        "cubes": post.get("cube_seconds"),
        "bi": post.get("bi_seconds"),
    }
    run_results = summary.get("run_results_path")
    if run_results and Path(run_results).exists():
        nodes = json.loads(Path(run_results).read_text(encoding="utf-8")).get("results", [])
        for kind in ("model", "test"):
            worked = sum(n["execution_time"] for n in nodes if n["unique_id"].startswith(f"{kind}."))
            steps[f"dbt_{kind}_seconds"] = round(worked, 1)
        ranked = sorted(nodes, key=lambda n: -n["execution_time"])[:slowest]
        steps["slowest"] = {_node_name(n["unique_id"]): round(n["execution_time"], 1) for n in ranked}
    return steps


def _node_name(unique_id: str) -> str:
    """A dbt node's name from its unique id: ``<kind>.<project>.<name>[.<hash>]``, except unit tests,
    ``unit_test.<project>.<model>.<name>``."""
    parts = unique_id.split(".")
    return parts[-1] if parts[0] == "unit_test" else parts[2]


def bench_scale(scale: str, root: Path) -> dict[str, Any]:
    work = root / scale
    shutil.rmtree(work, ignore_errors=True)  # each run measures from an empty lake and warehouse
    work.mkdir(parents=True)
    inbox, lake, warehouse_path = work / "inbox", work / "lake", work / "crmwh.duckdb"
    env = {
        **os.environ,
        "CI": "true",
        "CRMWH_PATHS__INBOX_DIR": str(inbox),
        "CRMWH_PATHS__LAKE_DIR": str(lake),
        "CRMWH_PATHS__WAREHOUSE_PATH": str(warehouse_path),
        "CRMWH_PATHS__RUNS_DIR": str(work / "runs"),
        "CRMWH_BENCH_LOG": str(work / "bench.log"),
    }
    result: dict[str, Any] = {"scale": scale}

    from warehouse.generate import generate_extracts

    started = time.perf_counter()
    summary = generate_extracts(inbox, scale=scale, seed=7, progress=False)
    result["generate_seconds"] = round(time.perf_counter() - started, 2)
    result["generated_rows"] = sum(f.rows for f in summary.files)

    from ingest.benchmark import run_ingest_benchmark

    result["ingest"] = run_ingest_benchmark(inbox, work / "ingest-bench")
    shutil.rmtree(work / "ingest-bench", ignore_errors=True)

    wall, peak = _crmwh(["ingest"], env)
    result["ingest_all_seconds"] = round(wall, 1)
    summary_path = work / "full-build.json"
    wall, peak = _crmwh(["build", "--full-refresh", "--json"], env, str(summary_path))
    result["full_build_seconds"] = round(wall, 1)
    result["full_build_peak_mb"] = round(peak)
    result["full_build_steps"] = build_steps(build_summary(summary_path.read_text(encoding="utf-8")))

    from cubes.benchmark import run_cube_benchmark

    result["cubes"] = run_cube_benchmark(warehouse_path)

    from warehouse.api_bench import run_api_benchmark

    result["api"] = run_api_benchmark(warehouse_path, clients=8)
    result["publish"] = _bench_publish(warehouse_path)

    next_day = DEFAULT_END + timedelta(days=1)
    generate_extracts(inbox, scale=scale, seed=7, as_of=next_day, progress=False)
    wall, peak = _crmwh(["nightly"], env)
    result["nightly_one_day_seconds"] = round(wall, 1)
    result["nightly_one_day_peak_mb"] = round(peak)
    result["nightly_steps"] = _last_nightly_steps(work / "runs")
    return result


def _bench_publish(warehouse_path: Path) -> dict[str, Any]:
    """Publish to a throw-away PostgreSQL server started from the OS packages, if they are installed."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "warehouse"))
    try:
        from postgres_server import find_bin_dir, running_postgres
    finally:
        sys.path.pop(0)
    if find_bin_dir() is None:
        return {"skipped": "no PostgreSQL server binaries (apt-get install postgresql)"}
    from warehouse.config import load_settings
    from warehouse.publish import publish

    with running_postgres(log_statements=False) as server:
        started = time.perf_counter()
        report = publish(load_settings(), warehouse_path=warehouse_path, dsn=server.dsn())
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "report": report.to_dict(),
    }


def _last_nightly_steps(runs_dir: Path) -> dict[str, Any]:
    reports = sorted(runs_dir.glob("*/report.json"))
    if not reports:
        return {}
    report = json.loads(reports[-1].read_text(encoding="utf-8"))
    return {
        "outcome": report.get("outcome"),
        **{step.get("name", "?"): step.get("duration_seconds") for step in report.get("steps", [])},
    }


def render(results: list[dict[str, Any]]) -> Table:
    table = Table(title="crmwh benchmark", title_justify="left")
    table.add_column("figure")
    for r in results:
        table.add_column(r["scale"], justify="right")

    def row(label: str, getter: Any) -> None:
        values = []
        for r in results:
            try:
                values.append(str(getter(r)))
            except (KeyError, TypeError):
                values.append("-")
        table.add_row(label, *values)

    row("generated rows", lambda r: f"{r['generated_rows']:,}")
    row("generate (s)", lambda r: r["generate_seconds"])
    row("ingest rows/s", lambda r: f"{r['ingest']['ingest_rows_per_second']:,.0f}")
    row("raw DuckDB COPY rows/s", lambda r: f"{r['ingest']['raw_copy_rows_per_second']:,.0f}")
    row("ingest / raw ratio", lambda r: f"{r['ingest']['ratio']:.2f}")
    row("full build (s)", lambda r: r["full_build_seconds"])
    row("full build peak RSS (MB)", lambda r: r["full_build_peak_mb"])
    row(
        "full build dbt / LTV / cubes / bi (s)",
        lambda r: " / ".join(str(r["full_build_steps"][k]) for k in ("dbt", "lifetime_value", "cubes", "bi")),
    )
    row("nightly, one new day (s)", lambda r: r["nightly_one_day_seconds"])
    row("nightly peak RSS (MB)", lambda r: r["nightly_one_day_peak_mb"])
    row(
        "nightly build / post-build (s)",
        lambda r: f"{r['nightly_steps']['build']} / {r['nightly_steps']['postbuild']}",
    )
    for label, key in (("no pre-agg", "without_preaggregations"), ("pre-agg", "with_preaggregations")):

        def cube(r: dict[str, Any], name: str, key: str = key) -> Any:
            return r["cubes"][key][name]

        row(
            f"cube {label} cold p50/p95 (ms)",
            lambda r, c=cube: f"{c(r, 'engine_cold_p50_ms')} / {c(r, 'engine_cold_p95_ms')}",
        )
        row(
            f"cube {label} warm p50/p95 (ms)",
            lambda r, c=cube: f"{c(r, 'engine_warm_p50_ms')} / {c(r, 'engine_warm_p95_ms')}",
        )
        row(
            f"hand SQL {label} p50/p95 (ms)",
            lambda r, c=cube: f"{c(r, 'hand_sql_p50_ms')} / {c(r, 'hand_sql_p95_ms')}",
        )
        row(
            f"cube {label} overhead cold/warm",
            lambda r, c=cube: f"{c(r, 'overhead_cold_p50')} / {c(r, 'overhead_warm_p50')}",
        )
    row("API 8 clients req/s", lambda r: r["api"]["throughput_per_s"])
    row("API p50 / p95 (ms)", lambda r: f"{r['api']['p50_ms']} / {r['api']['p95_ms']}")
    row("PostgreSQL publish (s)", lambda r: r["publish"]["seconds"])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="small medium", help="space-separated scales")
    args = parser.parse_args(argv)
    settings = load_settings()
    root = settings.runs_dir.parent / "bench"
    root.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in args.scales.split():
        console.rule(f"scale {scale}")
        results.append(bench_scale(scale, root))
        console.print_json(json.dumps(results[-1], default=str))
    console.print(render(results))
    (root / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    console.print(f"written to {root / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
