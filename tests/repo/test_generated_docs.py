"""Numbers in the docs come from their sources: every generated block is up to date."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs__are_up_to_date():
    run = subprocess.run(
        [sys.executable, "tools/docs.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_params_table__lists_every_parameter_with_its_bounds():
    sys.path.insert(0, str(ROOT / "tools"))
    import docs
    from keeper import params as P

    table = docs.params_table()
    assert all(f"| `{p.name}` |" in table for p in P.PARAMS)
    assert "| `cvd_trip_bps` | 300 | 50 .. 5,000 | bps |" in table
