"""`make gas`: the gas of the key calls, compared with the committed gas-snapshot.json.

Runs the gas benchmarks of bench/ (the same deployments and calls `make bench` measures) and keeps the
whole-transaction gas figures, not ratios or sample counts. A call whose gas rose by more than
TOLERANCE over the snapshot fails the run, named with both figures; a call that got cheaper, or is new,
is reported and passes. `make gas-update` (GAS_UPDATE=1) rewrites the snapshot from this run.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import click
from ape import accounts, project

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "gas-snapshot.json"
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the project, not an installed package
MODULES = ("breaker", "pool", "lending", "auction", "aave", "v4hook")
TOLERANCE = 0.01  # a rise over 1% fails


def is_gas_figure(key: str, value: float) -> bool:
    """Whole-transaction gas (`gas.<area>.<call>`), not a ratio (`_over_`) or a count (`_samples`)."""
    return key.startswith("gas.") and "_over_" not in key and not key.endswith("_samples") and value >= 21_000


def measure() -> dict[str, int]:
    figures: dict[str, int] = {}
    for name in MODULES:
        if not (ROOT / "bench" / f"{name}.py").is_file():
            continue
        module = importlib.import_module(f"bench.{name}")
        figures |= {
            k: round(v) for k, v in module.run(project, accounts.test_accounts).items() if is_gas_figure(k, v)
        }
    return dict(sorted(figures.items()))


def compare(snapshot: dict[str, int], now: dict[str, int]) -> tuple[list[str], list[str]]:
    """(failures, notes): rises over TOLERANCE fail; drops, new and vanished calls are notes."""
    failures, notes = [], []
    for key, gas in now.items():
        old = snapshot.get(key)
        if old is None:
            notes.append(f"{key}: new, {gas:,} gas")
        elif gas > old * (1 + TOLERANCE):
            failures.append(f"{key}: {old:,} -> {gas:,} gas (+{(gas - old) / old:.2%}, over {TOLERANCE:.0%})")
        elif gas != old:
            notes.append(f"{key}: {old:,} -> {gas:,} gas ({(gas - old) / old:+.2%})")
    notes += [f"{key}: no longer measured" for key in snapshot if key not in now]
    return failures, notes


def main():
    now = measure()
    if os.environ.get("GAS_UPDATE"):
        SNAPSHOT.write_text(json.dumps(now, indent=2) + "\n")
        click.echo(f"{len(now)} calls written to {SNAPSHOT.name}")
        return
    if not SNAPSHOT.is_file():
        raise click.ClickException(f"{SNAPSHOT.name} is missing: run `make gas-update` and commit it")
    failures, notes = compare(json.loads(SNAPSHOT.read_text()), now)
    for line in notes:
        click.echo(f"  {line}")
    if failures:
        raise click.ClickException(
            "gas rose over the snapshot:\n  "
            + "\n  ".join(failures)
            + "\nIf the rise is intended, run `make gas-update` and commit gas-snapshot.json."
        )
    click.echo(f"gas: {len(now)} calls within {TOLERANCE:.0%} of {SNAPSHOT.name}")
