"""`python -m replay.compare SCENARIO [--out DIR]`: one scenario under every protection, side by side.

Runs `composite`, `none`, `single-threshold` and `kill-switch` as tasks on a Dask cluster (a local
one of a worker per core by default, an existing one with `--address` or DASK_SCHEDULER_ADDRESS;
docs/replay.md), each on its own anvil, writes each result JSON and a chart to DIR (default
results/<scenario name>/), and prints the table. A protection whose result is already in DIR for the
same code version is not replayed (`--force` replays it). `make demo` calls it on
scenarios/oct10-usde.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from replay.cells import Cell
from replay.report import chart, table
from replay.runner import add_cluster_arguments, run_cells
from replay.scenario import ScenarioError, load_scenario
from replay.world import PROTECTIONS

ROOT = Path(__file__).resolve().parent.parent


def compare(
    scenario_path: str,
    out_dir: Path,
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
) -> tuple[dict[str, dict], dict[str, object], list[str]]:
    """(results, records, failures) by protection, in PROTECTIONS order; a failure names its protection."""
    cells = [Cell.of(scenario_path, p) for p in PROTECTIONS]
    results: dict[str, dict] = {}
    records: dict[str, object] = {}
    failures: list[str] = []
    for o in run_cells(
        cells,
        lambda c: out_dir / c.filename(),
        address=address,
        workers=workers,
        want_record=True,
        force=force,
        progress=False,
    ):
        if o.result is None:
            failures.append(f"{o.cell.world}: {o.error}")
            print(f"  {o.cell.world:17} FAILED after {o.attempts} attempts: {o.error}", flush=True)
            continue
        how = "reused from disk" if o.cached else f"replayed in {o.wall_s:5.1f} s"
        print(f"  {o.cell.world:17} {how}", flush=True)
        results[o.cell.world], records[o.cell.world] = o.result, o.record
    order = {p: i for i, p in enumerate(PROTECTIONS)}
    return (
        dict(sorted(results.items(), key=lambda kv: order[kv[0]])),
        dict(sorted(records.items(), key=lambda kv: order[kv[0]])),
        failures,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.compare", description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--out", default=None, help="directory for the result JSONs and the chart")
    add_cluster_arguments(parser, "replay protections whose result is on disk")
    args = parser.parse_args(argv)
    try:
        scenario, _ = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out) if args.out else ROOT / "results" / scenario.name
    print(
        f"Replaying {scenario.name} ({scenario.blocks:,} blocks of {scenario.block_time_s} s) under "
        f"{', '.join(PROTECTIONS)}:",
        flush=True,
    )
    started = time.perf_counter()
    results, records, failures = compare(args.scenario, out_dir, args.workers, args.address, args.force)
    if failures:
        for failure in failures:
            print(f"error: {failure}", file=sys.stderr)
        return 1
    print()
    print(table(results))
    png = out_dir / "chart.png"
    chart(png, f"{scenario.name}: composite breaker vs no protection", records["composite"], records["none"])
    summary = out_dir / "summary.json"
    summary.write_text(
        json.dumps(
            {
                p: {k: v for k, v in r.items() if k != "trips"} | {"trips": len(r["trips"])}
                for p, r in results.items()
            },
            indent=2,
        )
        + "\n"
    )
    for auction in results["composite"].get("auctions", []):
        print(
            f"composite: the halt ended through the reopening auction at t = {auction['t']:,.0f} s: "
            "clearing price "
            f"{auction['price']:.4f} (reference {auction['reference']:.4f}), volume "
            f"{auction['volume']:,.0f}, "
            f"{auction['orders']} orders"
        )
    for protection, result in results.items():
        for failure in result["expect_failures"] if protection == "composite" else []:
            print(f"expectation not met ({protection}): {failure}")
    print(
        f"\nresults: {out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir}/"
        f"{{{','.join(PROTECTIONS)}}}.json, chart: {png.name} ({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
