"""`python -m replay --scenario FILE --breaker KIND --out FILE`: replay a scenario, write the result JSON.

Exit status 0 when the replay ran, whatever the metrics say; 2 with a one-line reason for an
invalid scenario or breaker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from replay.engine import Engine, Record
from replay.overrides import Override, load_with_overrides, parse_override
from replay.result import build_result
from replay.scenario import ScenarioError, with_overrides
from replay.world import PROTECTIONS


def run_replay(
    scenario_path: str | Path,
    protection: str,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    params: dict[str, int] | None = None,
    seed: int | None = None,
    blocks: int | None = None,
    overrides: dict[str, Any] | list[Override] | None = None,
) -> tuple[dict, Record, float]:
    """Replays one scenario under one protection: (result JSON, the block-by-block record, wall seconds).

    `seed` overrides the generated borrower population's seed, `blocks` keeps the first `blocks` steps,
    `overrides` sets scenario fields by dotted path (replay/overrides.py).
    """
    scenario, curves = load_with_overrides(scenario_path, overrides)
    scenario = with_overrides(scenario, seed=seed, blocks=blocks)
    engine = Engine(
        scenario, curves, Path(scenario_path).resolve().parent, protection, progress=progress, params=params
    )
    started = time.perf_counter()
    try:
        engine.run()
        result = build_result(engine)
    finally:
        engine.close()
    wall = time.perf_counter() - started
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
    return result, engine.record, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--breaker", default="composite")
    parser.add_argument("--out", default=None)
    parser.add_argument("--seed", type=int, default=None, help="override the borrower population's seed")
    parser.add_argument("--blocks", type=int, default=None, help="replay only the first BLOCKS steps")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field by dotted path (market.lending.price_source=reference), repeatable",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.breaker not in PROTECTIONS:
        print(
            f"error: breaker: expected one of {', '.join(PROTECTIONS)} (got {args.breaker!r})",
            file=sys.stderr,
        )
        return 2
    try:
        overrides = [parse_override(text) for text in args.set]
        result, _, wall = run_replay(
            args.scenario,
            args.breaker,
            args.out,
            progress=not args.no_progress,
            seed=args.seed,
            blocks=args.blocks,
            overrides=overrides,
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {
        k: result[k]
        for k in (
            "scenario",
            "breaker",
            "liquidations",
            "wrongful_borrowers",
            "wrongful_borrower_loss_usd",
            "wrongful_liquidations",
            "wrongful_liquidated_usd",
            "bad_debt_usd",
            "halted_s",
        )
    }
    summary["trips"] = len(result["trips"])
    print(json.dumps(summary), f"({wall:.1f} s)")
    for failure in result["expect_failures"]:
        print(f"expectation not met: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
