"""`make bench`: run every benchmark module on a local anvil, print a table, write bench/results.json.

Modules live in bench/ and expose `run(project, accounts) -> dict[str, float]`; one run
measures everything, so ratios compare figures from the same machine and moment.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

import click
from ape import accounts, project

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the project, not an installed package
MODULES = (
    "breaker",
    "pool",
    "security",
    "lending",
    "auction",
    "keeper",
    "replay",
    "cluster",
    "matrix",
    "aave",
    "v4hook",
)


def _available(name: str):
    if not (ROOT / "bench" / f"{name}.py").is_file():
        return None
    return importlib.import_module(f"bench.{name}")


def main():
    results: dict[str, float] = {}
    only = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m]  # e.g. BENCH_ONLY=breaker,pool
    for name in only or MODULES:
        module = _available(name)
        if module is None:
            continue
        started = time.perf_counter()
        figures = module.run(project, accounts.test_accounts)
        click.echo(f"bench.{name}: {len(figures)} figures in {time.perf_counter() - started:.1f} s")
        results.update(figures)
        results[f"bench.run_at.{name}"] = int(time.time())  # which run each module's figures come from

    # A partial run keeps the full file, unless BENCH_MERGE=1 asks it to replace the keys it measured there
    # (each module's figures, ratios included, still come from one run).
    merge = bool(only) and os.environ.get("BENCH_MERGE") == "1"
    out = RESULTS if not only or merge else RESULTS.with_name("results.partial.json")
    if merge and RESULTS.is_file():
        results = json.loads(RESULTS.read_text()) | results
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    width = max(len(k) for k in results)
    click.echo("")
    click.echo(f"{'key':<{width}}  value")
    for key, value in sorted(results.items()):
        shown = f"{value:,.3f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
        click.echo(f"{key:<{width}}  {shown}")
    click.echo(f"\nwritten to {out.relative_to(ROOT)}")
