import os
import sys

from warehouse.bench import run_measured


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
