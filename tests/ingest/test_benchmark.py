import statistics
from pathlib import Path

from ingest.benchmark import run_ingest_benchmark, write_synthetic_extracts


def test_each_side_runs_in_turn_into_a_fresh_target_and_the_figures_are_medians(tmp_path: Path) -> None:
    write_synthetic_extracts(tmp_path / "extracts", rows=2_000)
    result = run_ingest_benchmark(tmp_path / "extracts", tmp_path / "work", repeats=3)
    assert result["repeats"] == 3
    assert len(result["ingest_seconds_runs"]) == len(result["raw_copy_seconds_runs"]) == 3
    assert result["ingest_seconds"] == round(statistics.median(result["ingest_seconds_runs"]), 3)
    assert result["raw_copy_seconds"] == round(statistics.median(result["raw_copy_seconds_runs"]), 3)
    # Every run ingested into an empty lake: none was skipped as already ingested.
    assert result["ingest_rows"] == result["raw_copy_rows"] == 4_000
    assert result["ingest_rows_landed"] + result["ingest_rows_rejected"] == 4_000
    expected_ratio = (4_000 / result["ingest_seconds"]) / (4_000 / result["raw_copy_seconds"])
    assert abs(result["ratio"] - expected_ratio) < 0.01
