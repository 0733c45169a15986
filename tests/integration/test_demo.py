"""`make demo`, part one (`ape run demo`), end to end: a change that breaks the tour fails the suite.

The replay half of `make demo` (`replay.compare`) is covered by tests/replay on a short scenario."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo__tour_trips_resumes_and_reopens_through_the_auction():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ape"), "run", "demo", "-v", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2_000:]
    out = result.stdout
    assert "anyone armed rule A" in out
    assert re.search(r"rule A tripped market \d+: pool state HALTED", out)
    assert "a swap now: GuardedPool: market halted" in out
    assert "LendingMarket: liquidations frozen by the breaker" in out
    clearing = re.search(r"clearing price (\d+\.\d+)", out)
    assert clearing and 0.96 <= float(clearing.group(1)) <= 1.002  # between the holder's and the DLP's limits
    assert re.search(r"market \d+ NORMAL \(reason 10, auction settled\)", out)
