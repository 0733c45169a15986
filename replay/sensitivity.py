"""`python -m replay.sensitivity SCENARIO [--seeds N] [--axes NAME ...]`: the headline metrics as one
assumption moves at a time.

Each axis sets one scenario field, or a few together (replay/overrides.py), to a few values around the
scenario's own; every value replays `composite`, `none` and `breaker-only` (when the engine has it) on
the same borrower seeds, on the Dask cluster of replay/runner.py, results reused from disk by code
version. Prints, per metric, a table of axis value x world, each figure the median and the 5-95% range
over the seeds, and writes OUT/summary.json (default OUT: results/<scenario name>/sensitivity/). An
axis whose field the scenario format does not have (yet) is refused with the validator's message, the
others still run, and the exit status is 1. Add an axis by adding an `Axis` to AXES.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay import stats
from replay.arguments import add_cell_arguments, add_cluster_arguments, parse_params
from replay.cells import ROOT, Cell, code_version, portable
from replay.overrides import load_with_overrides
from replay.report import figure_format, render, render_markdown
from replay.runner import run_cells
from replay.scenario import GeneratedBorrowers, Scenario, ScenarioError
from replay.world import PROTECTIONS

WORLDS = tuple(w for w in ("composite", "breaker-only", "none") if w in PROTECTIONS)
METRICS = (
    ("wrongful borrower loss USD", "wrongful_borrower_loss_usd"),
    ("wrongful borrowers", "wrongful_borrowers"),
    ("bad debt USD", "bad_debt_usd"),
)


Overrides = dict[str, Any]  # dotted scenario field -> value


@dataclass(frozen=True)
class Axis:
    name: str
    fields: str  # the scenario fields it sets (dotted), for messages
    values: Callable[[Scenario], list[tuple[str, Overrides]]]  # (label, overrides) from the scenario's own


def _set(path: str, *values: tuple[str, Any]) -> Callable[[Scenario], list[tuple[str, Overrides]]]:
    """An axis that sets one field to fixed values."""
    return lambda s: [(label, {path: value}) for label, value in values]


def _health_low(s: Scenario) -> list[tuple[str, Overrides]]:
    spec = s.market.borrowers
    if not isinstance(spec, GeneratedBorrowers):
        raise ScenarioError(
            f"{s.name}: health axis: the borrowers come from a file, not a generated population"
        )
    high = spec.health_factor.uniform[1]
    path = "market.borrowers.health_factor.uniform"
    return [(f"{low:.2f}", {path: [low, high]}) for low in (1.01, 1.05, 1.10) if low <= high]


def _depth(s: Scenario) -> list[tuple[str, Overrides]]:
    """The whole depth path the actors trade against: the pool's (its liquidity scales its depth series)
    and the external market's. An external depth the scenario leaves unset follows the pool's already."""
    pool, external = s.market.pool.liquidity_usd, s.market.external.depth_1pct_usd
    variants = []
    for k in (0.5, 2.0):
        overrides: Overrides = {"market.pool.liquidity_usd": pool * k}
        if external is not None:
            overrides["market.external.depth_1pct_usd"] = external * k
        variants.append((f"x{k:g}", overrides))
    return variants


AXES = (
    Axis("health", "market.borrowers.health_factor.uniform", _health_low),
    # the guarded pool's price band around the reference (the scenario's own is 500 bps unless it sets one)
    Axis("band", "market.pool.band_bps", _set("market.pool.band_bps", ("300", 300), ("800", 800))),
    Axis("depth", "market.pool.liquidity_usd, market.external.depth_1pct_usd", _depth),
    Axis(
        "slippage",
        "actors.liquidator.max_slippage_bps",
        _set("actors.liquidator.max_slippage_bps", ("50", 50), ("300", 300)),
    ),
)
BASE = "scenario's own"


def axis_variants(
    path: str | Path, scenario: Scenario, axes: list[Axis]
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """(axis name, value label) -> its overrides, the scenario's own first; and the axes refused, each
    with the format's message. An axis is checked whole before anything runs."""
    variants: dict[tuple[str, str], dict[str, Any]] = {("-", BASE): {}}
    refused: list[str] = []
    for axis in axes:
        try:
            moved = {(axis.name, label): overrides for label, overrides in axis.values(scenario)}
            for overrides in moved.values():
                load_with_overrides(path, overrides)
        except ScenarioError as exc:
            refused.append(f"axis {axis.name} ({axis.fields}): {exc}")
            continue
        variants |= moved
    return variants, refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.sensitivity", description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument(
        "--axes",
        nargs="+",
        default=[a.name for a in AXES],
        choices=[a.name for a in AXES],
        metavar="AXIS",
        help=f"axes to move (default: all of {', '.join(a.name for a in AXES)})",
    )
    add_cell_arguments(parser)
    parser.add_argument("--out", default=None, help="directory for the cells' JSONs and summary.json")
    add_cluster_arguments(parser, "replay cells whose result is on disk")
    args = parser.parse_args(argv)
    try:
        scenario, _ = load_with_overrides(args.scenario)
        params = parse_params(args.param)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else ROOT / "results" / scenario.name / "sensitivity"
    variants, refused = axis_variants(args.scenario, scenario, [a for a in AXES if a.name in args.axes])
    for line in refused:
        print(f"error: {line}", file=sys.stderr)
    cells = {
        Cell.of(args.scenario, world, seed, params=params, blocks=args.blocks, overrides=overrides): (
            key,
            world,
        )
        for key, overrides in variants.items()
        for world in WORLDS
        for seed in args.seeds
    }
    print(
        f"{scenario.name}: {len(variants)} variants x {len(WORLDS)} worlds x {len(args.seeds)} seeds = "
        f"{len(cells)} replays",
        flush=True,
    )
    started = time.perf_counter()
    runs: dict[tuple[str, str], dict[str, list[dict]]] = {}
    failed = 0
    for o in run_cells(
        cells, lambda c: out / c.filename(), address=args.address, workers=args.workers, force=args.force
    ):
        if o.result is None:
            failed += 1
            print(f"failed: {o.cell.label()}: {o.error}", file=sys.stderr)
            continue
        key, world = cells[o.cell]
        runs.setdefault(key, {}).setdefault(world, []).append(o.result)
    summary = {
        (BASE if axis == "-" else f"{axis}={label}"): {
            world: {key: stats.spread(stats.metric(r, key) for r in results) for _, key in METRICS}
            for world, results in runs.get((axis, label), {}).items()
        }
        for axis, label in variants
    }
    print()
    print(tables(summary))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "scenario": scenario.name,
                "command": command(args, params, out),
                "code_version": code_version(),
                "seeds": args.seeds,
                "params": params,
                "blocks": args.blocks,
                "variants": summary,
                "refused": refused,
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"\n{len(cells) - failed} replays, {failed} failed ({time.perf_counter() - started:.0f} s); "
        f"written: {out}/summary.json"
    )
    return 1 if refused or failed else 0


def command(args: argparse.Namespace, params: dict[str, int], out: Path) -> str:
    """The command line that reproduces this run, paths inside the project relative to its root."""
    parts = ["python -m replay.sensitivity", portable(args.scenario)]
    n = len(args.seeds)
    parts += ["--seeds", str(n) if args.seeds == list(range(n)) else ",".join(str(s) for s in args.seeds)]
    if args.axes != [a.name for a in AXES]:
        parts += ["--axes", *args.axes]
    parts += [f"--param {name}={value}" for name, value in sorted(params.items())]
    if args.blocks is not None:
        parts += ["--blocks", str(args.blocks)]
    return " ".join([*parts, "--out", portable(out)])


def tables(summary: dict[str, dict[str, dict[str, Any]]], markdown: bool = False) -> str:
    """One table per headline metric: a row per axis value, a column per world."""
    draw = render_markdown if markdown else render
    return "\n\n".join(
        draw(
            f"{title} (median [5%, 95%] over seeds)",
            ["axis=value", *WORLDS],
            [
                [
                    variant,
                    *(stats.show(by_world.get(world, {}).get(key), figure_format(key)) for world in WORLDS),
                ]
                for variant, by_world in summary.items()
            ],
        )
        for title, key in METRICS
    )


if __name__ == "__main__":
    sys.exit(main())
