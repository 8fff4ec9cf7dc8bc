"""Kill an ingest mid-file with SIGKILL, run again, and compare with a clean ingest of the same inbox."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import make_settings

from ingest.benchmark import write_synthetic_extracts
from ingest.run import ingest_paths

PROJECT = Path(__file__).resolve().parents[2]
RUNNER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import make_settings
from ingest.run import ingest_paths
ingest_paths(make_settings(Path({root!r})))
"""


def lake_content(lake: Path) -> dict[str, list[tuple]]:
    """Every landed and rejected Parquet file of the lake, as sorted rows without the run timestamp."""
    con = duckdb.connect()
    content = {}
    for path in sorted(lake.rglob("*.parquet")):
        if path.name == "_empty.parquet":
            continue
        rel = con.execute(f"SELECT * EXCLUDE (_ingested_at, _source_file) FROM '{path}'")
        content[str(path.relative_to(lake))] = sorted(map(repr, rel.fetchall()))
    return content


def manifest_counts(lake: Path) -> dict[str, tuple]:
    records = [json.loads(p.read_text()) for p in (lake / "_manifest").glob("*.json")]
    return {
        r["load_id"]: (r["path"].split("inbox/")[1], r["rows_read"], r["rows_landed"], r["rows_rejected"])
        for r in records
    }


def test_killed_ingest_finishes_on_rerun_like_a_clean_one(tmp_path: Path) -> None:
    extracts = tmp_path / "extracts"
    write_synthetic_extracts(extracts, 30_000)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    for root in (crashed, clean):
        shutil.copytree(extracts, root / "inbox")

    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    script = RUNNER.format(tests=str(Path(__file__).parent), root=str(crashed))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT, env=env)
    lake = crashed / "lake"
    deadline = time.monotonic() + 120
    # Kill while the first Parquet file of a load is being written: the worst moment.
    while time.monotonic() < deadline and process.poll() is None:
        if lake.exists() and any(
            p.name.endswith(".parquet.tmp") and "_empty" not in p.name for p in lake.rglob("*.tmp")
        ):
            break
        time.sleep(0.005)
    assert process.poll() is None, "ingest finished before it could be killed; make the input larger"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(manifest_counts(lake)) < 2, "the killed run must not have recorded every load"

    resumed = ingest_paths(make_settings(crashed))
    reference = ingest_paths(make_settings(clean))

    assert any(f.status != "skipped" for f in resumed.files), "the rerun must finish the interrupted load"
    assert manifest_counts(crashed / "lake") == manifest_counts(clean / "lake")
    assert lake_content(crashed / "lake") == lake_content(clean / "lake")
    assert not [p for p in (crashed / "lake").rglob("*.tmp")]
    total = sum(r[1] for r in manifest_counts(clean / "lake").values())
    assert total == 60_000 == reference.rows_read
