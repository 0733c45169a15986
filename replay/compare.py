"""`python -m replay.compare SCENARIO [--out DIR]`: one scenario under every protection, side by side.

Runs `composite`, `none`, `single-threshold` and `kill-switch` (two at a time, each on its own
anvil), writes each result JSON and a chart to DIR (default results/<scenario name>/), and prints
the table. `make demo` calls it on scenarios/oct10-usde.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from replay.__main__ import run_replay
from replay.report import chart, table
from replay.scenario import ScenarioError, load_scenario
from replay.world import PROTECTIONS

ROOT = Path(__file__).resolve().parent.parent


def _one(args: tuple[str, str, str]) -> tuple[str, dict, object, float]:
    scenario, protection, out = args
    result, record, wall = run_replay(scenario, protection, out, progress=False)
    return protection, result, record, wall


def compare(scenario_path: str, out_dir: Path, workers: int = 2) -> tuple[dict[str, dict], dict[str, object]]:
    jobs = [(scenario_path, p, str(out_dir / f"{p}.json")) for p in PROTECTIONS]
    results: dict[str, dict] = {}
    records: dict[str, object] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for protection, result, record, wall in pool.map(_one, jobs):
            print(f"  {protection:17} replayed in {wall:5.1f} s", flush=True)
            results[protection], records[protection] = result, record
    return results, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.compare", description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--out", default=None, help="directory for the result JSONs and the chart")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        scenario, _ = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out) if args.out else ROOT / "results" / scenario.name
    print(f"Replaying {scenario.name} ({scenario.blocks:,} blocks of {scenario.block_time_s} s) under "
          f"{', '.join(PROTECTIONS)}:", flush=True)
    started = time.perf_counter()
    results, records = compare(args.scenario, out_dir, args.workers)
    print()
    print(table(results))
    png = out_dir / "chart.png"
    chart(png, f"{scenario.name}: composite breaker vs no protection", records["composite"], records["none"])
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps({p: {k: v for k, v in r.items() if k != "trips"} | {"trips": len(r["trips"])}
                                   for p, r in results.items()}, indent=2) + "\n")
    for auction in results["composite"].get("auctions", []):
        print(f"composite: the halt ended through the reopening auction at t = {auction['t']:,.0f} s: clearing price "
              f"{auction['price']:.4f} (reference {auction['reference']:.4f}), volume {auction['volume']:,.0f}, "
              f"{auction['orders']} orders")
    for protection, result in results.items():
        for failure in result["expect_failures"] if protection == "composite" else []:
            print(f"expectation not met ({protection}): {failure}")
    print(f"\nresults: {out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir}/"
          f"{{{','.join(PROTECTIONS)}}}.json, chart: {png.name} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
