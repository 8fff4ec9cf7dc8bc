"""Throughput and latency of the HTTP cube API: the cube benchmark's fifty queries sent by concurrent clients to
a real server on a local port, each client sending every query once per round in its own order."""

from __future__ import annotations

import random
import secrets
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from cubes.query import Query
from warehouse.config import Settings

BENCH_TOKEN_ENV = "CRMWH_BENCH_TOKEN"


def benchmark_queries() -> list[Query]:
    """The fixed query set of ``cubes.benchmark`` (ten families x five levels or filter values)."""
    from cubes.benchmark import _cases

    return [query for query, _, _ in _cases()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_api_benchmark(
    warehouse_path: str | Path,
    clients: int = 8,
    queries: list[Query] | None = None,
    rounds: int = 1,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Serve ``warehouse_path`` on a free local port and let ``clients`` threads each send every query
    ``rounds`` times. Returns throughput (answers per second) and p50/p95 latency in milliseconds."""
    from warehouse.api import create_app, query_payload
    from warehouse.serve import running_server

    base = settings or Settings()
    token = secrets.token_urlsafe(32)
    serve = replace(
        base.serve,
        tokens={"benchmark": f"env:{BENCH_TOKEN_ENV}"},
        token_regions={},
        max_queued_requests=max(base.serve.max_queued_requests, clients),
    )
    bench_settings = replace(
        base, paths=replace(base.paths, warehouse_path=Path(warehouse_path)), serve=serve
    )
    payloads = [query_payload(q) for q in (queries if queries is not None else benchmark_queries())]
    app = create_app(bench_settings, env={BENCH_TOKEN_ENV: token})
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(seed: int, url: str) -> None:
        order = [p for _ in range(rounds) for p in payloads]
        random.Random(seed).shuffle(order)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            for payload in order:
                started = time.perf_counter()
                response = http.post("/query", json=payload)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")

    with running_server(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as warm:
            for payload in payloads:
                warm.post("/query", json=payload)
        threads = [threading.Thread(target=client, args=(i, url)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    return {
        "queries": len(payloads),
        "clients": clients,
        "requests": len(latencies),
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "seconds": round(wall, 3),
        "throughput_per_s": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "max_concurrent_queries": serve.max_concurrent_queries,
    }


if __name__ == "__main__":
    import json
    import sys

    from warehouse.config import load_settings

    loaded = load_settings()
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else loaded.warehouse_path
    print(json.dumps(run_api_benchmark(target, settings=loaded), indent=2))
