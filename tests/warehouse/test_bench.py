import json
import os
import sys

from warehouse.bench import build_steps, build_summary, run_measured


def test_a_child_is_measured_at_its_own_peak_not_the_benchmark_processs() -> None:
    # The benchmark process is large by the time it builds (it generated the extracts in-process); a child
    # forked from it and measured with wait4 used to report that size as its own peak.
    ballast = bytearray(400 * 2**20)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    wall, peak, code = run_measured(
        [sys.executable, "-c", "x = bytearray(150 * 2**20); x[::4096] = b'1' * len(x[::4096])"],
        dict(os.environ),
    )
    assert code == 0
    assert 150 < peak < 300, peak
    assert wall > 0
    _, failing_peak, failing_code = run_measured(
        [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ)
    )
    assert failing_code == 3
    assert failing_peak < 150
    del ballast


def test_a_childs_stdout_can_go_to_a_file_of_its_own(tmp_path) -> None:
    log, out = tmp_path / "bench.log", tmp_path / "summary.json"
    _, _, code = run_measured(
        [sys.executable, "-c", "import sys; print('{\"a\": 1}'); print('noise', file=sys.stderr)"],
        dict(os.environ),
        str(log),
        str(out),
    )
    assert code == 0
    assert json.loads(out.read_text()) == {"a": 1}
    assert log.read_text().strip() == "noise"


def test_build_steps_split_a_full_build_into_dbt_and_post_build(tmp_path) -> None:
    nodes = [
        ("model.crmwh.fct_customer_months", 10.5),
        ("model.crmwh.int_interactions__unioned", 8.25),
        ("test.crmwh.unique_fct_orders_order_id.abc", 1.5),
        ("test.crmwh.assert_won_amount_reconciles", 2.0),
        ("test.crmwh.unique_combination_fct_customer_months_customer_key.db1a6ebdef", 5.0),
        ("unit_test.crmwh.int_calendar__days.business_calendar_skips_weekend_and_holiday", 4.0),
        ("seed.crmwh.channel_taxonomy", 0.25),
        ("snapshot.crmwh.snp_customers", 3.0),
    ]
    run_results = tmp_path / "run_results.json"
    run_results.write_text(json.dumps({"results": [{"unique_id": u, "execution_time": t} for u, t in nodes]}))
    summary = {
        "elapsed_seconds": 21.0,
        "run_results_path": str(run_results),
        "post_build": {"lifetime_value_seconds": 4.5, "cube_seconds": 6.0, "bi_seconds": 1.25},
    }
    steps = build_steps(summary, slowest=5)
    assert steps["dbt"] == 21.0
    assert (steps["lifetime_value"], steps["cubes"], steps["bi"]) == (4.5, 6.0, 1.25)
    assert steps["dbt_model_seconds"] == 18.8  # 10.5 + 8.25, rounded to 0.1
    assert steps["dbt_test_seconds"] == 8.5  # data tests only: 1.5 + 2.0 + 5.0
    assert steps["slowest"] == {
        "fct_customer_months": 10.5,
        "int_interactions__unioned": 8.2,
        "unique_combination_fct_customer_months_customer_key": 5.0,
        "business_calendar_skips_weekend_and_holiday": 4.0,
        "snp_customers": 3.0,
    }


def test_build_steps_of_a_failed_build_keep_what_is_known() -> None:
    steps = build_steps({"elapsed_seconds": 3.0, "run_results_path": None, "post_build": {}})
    assert steps == {"dbt": 3.0, "lifetime_value": None, "cubes": None, "bi": None}


def test_build_summary_is_found_after_dbt_error_lines() -> None:
    printed = json.dumps({"status": "error", "elapsed_seconds": 2.5, "post_build": {}}, indent=2)
    stdout = (
        "Failure in test unique_x (models/x.yml)\n  Got 1 result, configured to fail if != 0 {x}\n" + printed
    )
    assert build_summary(stdout) == {"status": "error", "elapsed_seconds": 2.5, "post_build": {}}
    assert build_summary("dbt crashed before printing a summary\n") == {}
