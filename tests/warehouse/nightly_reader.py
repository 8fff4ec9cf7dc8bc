"""A warehouse reader for the nightly tests, run as its own process.

``fresh`` opens the live file anew for every query (as a BI tool reconnecting would); ``held`` keeps
one connection open throughout. Each answer, or error, is printed as a JSON line until the stop file
appears, and once more after it. A separate process per mode, because DuckDB shares one database instance per path within a
process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def main(mode: str, live: str, stop: str, sql: str) -> None:
    held = duckdb.connect(live, read_only=True) if mode == "held" else None
    while True:
        # One more read after the stop file appears: the test touches it only after its last publication,
        # so the final read always sees the last build, however slowly this process was scheduled.
        stopping = Path(stop).exists()
        try:
            if held is not None:
                row = held.execute(sql).fetchone()
            else:
                with duckdb.connect(live, read_only=True) as con:
                    row = con.execute(sql).fetchone()
            print(json.dumps({"kind": mode, "answer": [str(v) for v in row]}), flush=True)
        except Exception as exc:  # every failure is the finding
            print(json.dumps({"kind": mode, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        if stopping:
            break
        time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:5])
