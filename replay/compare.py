"""`python -m replay.compare SCENARIO [--seeds N] [--out DIR]`: every world x N borrower seeds, with ranges.

Runs each world of replay.world.PROTECTIONS on N seeds of the scenario's generated borrower population
(default 20; a population read from a file has one seed, its own) as tasks on a Dask cluster (a local
one of a worker per core by default, an existing one with `--address` or DASK_SCHEDULER_ADDRESS;
docs/replay.md), each on its own anvil. Prints the world x metric tables, every figure the median and
the 5-95% range over the seeds, then what each part of the protection prevents (the breaker alone, the
breaker on top of the band, paired by seed), and writes each cell's result JSON, summary.json and a
chart (composite and none on the first seed) to DIR (default results/<scenario name>/). summary.json
holds what the report shows and names the command and code version that made it: tools/docs.py renders
docs/replay.md's results from it. A cell whose result is already in DIR for the same code version is
not replayed (`--force` replays it); `--set PATH=VALUE` overrides a scenario field for every cell.
`make demo` calls it on scenarios/oct10-usde.yaml.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay.arguments import add_cell_arguments, add_cluster_arguments, parse_params
from replay.cells import Cell, code_version, portable
from replay.overrides import Override, load_with_overrides, parse_override
from replay.report import (
    chart,
    contributions,
    money,
    render_contributions,
    seed_summary,
    seed_tables,
    venue_label,
    with_protection_cost,
)
from replay.runner import run_cells
from replay.scenario import GeneratedBorrowers, ScenarioError
from replay.world import PROTECTIONS

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Compared:
    runs: dict[str, dict[Any, dict]]  # results by world, then seed
    records: dict[str, object]  # the first seed's record, by world
    failures: list[str]  # each naming its cell
    reused: int  # cells read from disk (same run, same code version), not replayed


def compare(
    scenario_path: str,
    out_dir: Path,
    seeds: list[int | None],
    worlds: tuple[str, ...] = PROTECTIONS,
    *,
    overrides: list[Override] | None = None,
    params: dict[str, int] | None = None,
    blocks: int | None = None,
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
) -> Compared:
    """Every world x seed of the scenario, on the cluster of replay/runner.py."""
    cells = [
        Cell.of(scenario_path, world, seed, params=params, blocks=blocks, overrides=dict(overrides or ()))
        for world in worlds
        for seed in seeds
    ]
    runs: dict[str, dict[Any, dict]] = {}
    records: dict[str, object] = {}
    failures: list[str] = []
    reused = 0
    for o in run_cells(
        cells,
        lambda c: out_dir / c.filename(),
        address=address,
        workers=workers,
        want_record=True,
        force=force,
    ):
        if o.result is None:
            failures.append(f"{o.cell.label()}: {o.error}")
            continue
        reused += o.cached
        runs.setdefault(o.cell.world, {})[o.cell.seed] = o.result
        if o.cell.seed == seeds[0]:
            records[o.cell.world] = o.record
    order = {p: i for i, p in enumerate(worlds)}
    runs = {
        w: dict(sorted(r.items(), key=lambda kv: -1 if kv[0] is None else kv[0])) for w, r in runs.items()
    }
    return Compared(dict(sorted(runs.items(), key=lambda kv: order[kv[0]])), records, failures, reused)


def misses(runs: dict[str, dict[Any, dict]], summary: dict[str, dict[str, Any]]) -> list[str]:
    """Wrongful loss in a scenario whose series never dislocate (rule A's conditions never hold on them:
    the venue stays with the reference) is the model's own: the liquidator's sales moving the pool the
    market is priced from. It is a miss of that world, not a behaviour to credit, and is said so."""
    if any(r.get("first_condition_t") is not None for by_seed in runs.values() for r in by_seed.values()):
        return []
    return [
        f"miss ({world}): wrongful borrower loss {money(row['wrongful_borrower_loss_usd']['median'] or 0)} "
        "(median) where the venue never left the reference: made by the liquidator's own sales into the "
        "pool the market is priced from"
        for world, row in summary.items()
        if (row["wrongful_borrower_loss_usd"]["median"] or 0) > 0
    ]


def command(
    scenario_path: str,
    seeds: list[int | None],
    worlds: tuple[str, ...],
    sets: list[str],
    blocks: int | None,
    out_dir: Path,
    params: dict[str, int] | None = None,
) -> str:
    """The command line that reproduces this run, with paths inside the project relative to its root
    (summary.json is committed under docs/results/, which may name nothing outside the project)."""
    parts = ["python -m replay.compare", portable(scenario_path)]
    if seeds != [None]:
        n = len(seeds)
        parts += ["--seeds", str(n) if seeds == list(range(n)) else ",".join(str(s) for s in seeds)]
    if worlds != PROTECTIONS:
        parts += ["--worlds", *worlds]
    for text in sets:
        parts += ["--set", shlex.quote(text)]
    for name, value in sorted((params or {}).items()):
        parts += ["--param", f"{name}={value}"]
    if blocks is not None:
        parts += ["--blocks", str(blocks)]
    parts += ["--out", portable(out_dir)]
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.compare", description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument(
        "--worlds",
        nargs="+",
        default=list(PROTECTIONS),
        choices=PROTECTIONS,
        metavar="WORLD",
        help=f"worlds to replay (default: all of {', '.join(PROTECTIONS)})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field for every cell (market.lending.price_source=reference), repeatable",
    )
    add_cell_arguments(parser)
    parser.add_argument("--out", default=None, help="directory for the result JSONs, summary and chart")
    add_cluster_arguments(parser, "replay cells whose result is on disk")
    args = parser.parse_args(argv)
    try:
        overrides = [parse_override(text) for text in args.set]
        scenario, _ = load_with_overrides(args.scenario, overrides)
        params = parse_params(args.param)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seeds: list[int | None] = list(args.seeds)
    if not isinstance(scenario.market.borrowers, GeneratedBorrowers):
        seeds = [None]  # a population from a file is one population
    out_dir = Path(args.out) if args.out else ROOT / "results" / scenario.name
    worlds = tuple(args.worlds)
    print(
        f"Replaying {scenario.name} ({args.blocks or scenario.blocks:,} blocks of {scenario.block_time_s} s) "
        f"under {', '.join(worlds)} x {len(seeds)} borrower seeds"
        + (f" with {', '.join(args.set)}" if args.set else "")
        + (f" and breaker parameters {', '.join(args.param)}" if args.param else "")
        + ":",
        flush=True,
    )
    started = time.perf_counter()
    try:
        compared = compare(
            args.scenario,
            out_dir,
            seeds,
            worlds,
            overrides=overrides,
            params=params,
            blocks=args.blocks,
            workers=args.workers,
            address=args.address,
            force=args.force,
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records, failures = compared.records, compared.failures
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    if not compared.runs:
        return 1
    runs = with_protection_cost(compared.runs)
    summary = seed_summary(runs)
    print()
    print(seed_tables(summary))
    print()
    by_contribution = contributions(runs)
    print(render_contributions(by_contribution))
    missed_lines = misses(runs, summary)
    for line in missed_lines:
        print(line)
    composite = runs.get("composite", {})
    missed = sum(1 for r in composite.values() if r.get("expect_failures"))
    if missed:
        print(f"\nexpectations not met (composite): on {missed} of {len(composite)} seeds (see their JSONs)")
    chart_name = None
    if "composite" in records and "none" in records and records["composite"] and records["none"]:
        chart_name = "chart.png"
        chart(
            out_dir / chart_name,
            f"{scenario.name}: composite vs no protection (seed {seeds[0]})",
            records["composite"],
            records["none"],
            venue=venue_label(scenario.series.venue_price),
        )
    (out_dir / "summary.json").write_text(
        json.dumps(
            {
                "scenario": scenario.name,
                "command": command(args.scenario, seeds, worlds, args.set, args.blocks, out_dir, params),
                "params": params,
                "code_version": code_version(),
                "seeds": seeds,
                "blocks": args.blocks,
                "overrides": dict(overrides),
                "worlds": summary,
                "contributions": by_contribution,
                "misses": missed_lines,
                "failed": failures,
            },
            indent=2,
        )
        + "\n"
    )
    where = out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir
    replayed = sum(len(by_seed) for by_seed in runs.values()) - compared.reused
    print(
        f"\n{replayed} replayed, {compared.reused} reused from disk, {len(failures)} failed "
        f"({time.perf_counter() - started:.0f} s); results: {where}/<world>-seed<N>.json, summary.json"
        + (f", chart: {chart_name}" if chart_name else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
