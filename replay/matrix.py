"""`python -m replay.matrix SCENARIO --seeds 20`: a scenario under every world x borrower seed, on a cluster.

Each cell (world, seed) replays the scenario with its generated borrower population drawn from that
seed (docs/scenarios.md, "Seed matrices"); the cells run as tasks on a Dask cluster (docs/replay.md):
a local one by default, an existing one with `--address` or DASK_SCHEDULER_ADDRESS. Writes one result
JSON per cell to OUT/<world>-seed<N>.json (default OUT: results/<scenario name>/matrix/) and
OUT/summary.json: per world and metric the median and the 5-95% range over the seeds. Cells whose
result is already on disk for the same code version are not replayed again (`--force` replays them).
Exit status 0 when every cell ran, 1 when some failed twice (listed), 2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from replay import stats
from replay.cells import ROOT, Cell
from replay.runner import Outcome, add_cluster_arguments, run_cells, scheduler_address
from replay.scenario import ScenarioError, load_scenario
from replay.world import PROTECTIONS

# The result keys summarised over seeds; `trips` is the number of trips.
METRICS = (
    "trips",
    "halted_s",
    "trip_latency_s",
    "liquidations",
    "wrongful_borrower_loss_usd",
    "wrongful_borrowers",
    "wrongful_seized_usd",
    "wrongful_liquidations",
    "wrongful_liquidated_usd",
    "borrower_loss_usd",
    "bad_debt_usd",
    "bad_debt_by_cause.price_fell",
    "bad_debt_by_cause.dislocation",
    "lp_value_change_usd",
)


def parse_seeds(text: str) -> list[int]:
    """`20` is seeds 0..19; `3,7,11` is those seeds; `5-9` is 5..9."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        elif "-" in text.strip("-"):
            low, high = (int(s) for s in text.split("-", 1))
            seeds = list(range(low, high + 1))
        else:
            seeds = list(range(int(text)))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"seeds: expected N, a,b,c or low-high (got {text!r})") from exc
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds: expected at least one seed, none negative (got {text!r})")
    return list(dict.fromkeys(seeds))


def parse_param(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"param: expected NAME=INTEGER (got {text!r})") from exc


def summarize(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Per world and metric over the seeds that ran: median, p5, p95, and n (values that exist:
    a replay without a trip has no trip latency)."""
    by_world: dict[str, list[dict[str, Any]]] = {}
    failed: list[dict[str, Any]] = []
    for o in outcomes:
        if o.result is None:
            failed.append({"world": o.cell.world, "seed": o.cell.seed, "error": o.error})
        else:
            by_world.setdefault(o.cell.world, []).append(o.result)
    worlds: dict[str, Any] = {}
    for world, results in by_world.items():
        row: dict[str, Any] = {"seeds": len(results)}
        for key in METRICS:
            row[key] = stats.spread(stats.metric(r, key) for r in results)
        worlds[world] = row
    return {"worlds": worlds, "failed": failed}


def table(summary: dict[str, Any]) -> str:
    shown = ("trips", "halted_s", "wrongful_borrowers", "wrongful_borrower_loss_usd", "bad_debt_usd")
    lines = [
        f"{'world':17} {'seeds':>5}  " + "  ".join(f"{k:>28}" for k in shown),
        f"{'':17} {'':>5}  " + "  ".join(f"{'median [p5, p95]':>28}" for _ in shown),
    ]
    for world, row in summary["worlds"].items():
        cells = []
        for key in shown:
            m = row[key]
            cells.append(
                f"{'-':>28}"
                if m["median"] is None
                else f"{m['median']:>12,.0f} [{m['p5']:,.0f}, {m['p95']:,.0f}]".rjust(28)
            )
        lines.append(f"{world:17} {row['seeds']:>5}  " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.matrix", description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument(
        "--worlds",
        nargs="+",
        default=list(PROTECTIONS),
        choices=PROTECTIONS,
        metavar="WORLD",
        help=f"protections to replay under (default: all of {', '.join(PROTECTIONS)})",
    )
    parser.add_argument(
        "--seeds",
        type=parse_seeds,
        default=parse_seeds("20"),
        help="borrower seeds: N (0..N-1), a,b,c or low-high (default 20)",
    )
    parser.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="breaker parameter override (keeper.params name), repeatable",
    )
    parser.add_argument("--blocks", type=int, default=None, help="replay only the first BLOCKS steps")
    parser.add_argument("--out", default=None, help="directory for the cells' JSONs and summary.json")
    add_cluster_arguments(parser, "replay cells whose result is already on disk")
    args = parser.parse_args(argv)
    try:
        scenario, _ = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else ROOT / "results" / scenario.name / "matrix"
    params = dict(args.param)
    cells = [
        Cell.of(args.scenario, world, seed, params, args.blocks)
        for world in args.worlds
        for seed in args.seeds
    ]
    where = scheduler_address(args.address) or f"a local cluster of {args.workers or 'one worker per core'}"
    print(
        f"{scenario.name}: {len(args.worlds)} worlds x {len(args.seeds)} seeds = {len(cells)} replays on "
        f"{where}",
        flush=True,
    )
    started = time.perf_counter()
    try:
        outcomes = list(
            run_cells(
                cells,
                lambda c: out / c.filename(),
                address=args.address,
                workers=args.workers,
                force=args.force,
            )
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = summarize(outcomes)
    summary |= {
        "scenario": scenario.name,
        "seeds": args.seeds,
        "params": params,
        "blocks": args.blocks,
        "replayed": sum(1 for o in outcomes if o.result is not None and not o.cached),
        "reused": sum(1 for o in outcomes if o.cached),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(table(summary))
    for f in summary["failed"]:
        print(f"failed: {f['world']} seed {f['seed']}: {f['error']}")
    print(
        f"\n{summary['replayed']} replayed, {summary['reused']} reused from disk, {len(summary['failed'])} "
        "failed "
        f"({summary['wall_s']:.0f} s); written: {out}/summary.json and one JSON per cell"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
