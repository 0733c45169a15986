"""Where one replay's wall time goes: the table of docs/replay-performance.md.

    .venv/bin/python tools/replay_profile.py [--scenario scenarios/oct10-usde.yaml] [--breaker composite]
                                             [--out FILE]

Runs the replay exactly as `python -m replay` does, timing each part of a step (the market's moves,
the keeper's `cycle()`, the liquidator, mining and recording) and every JSON-RPC request by method
(a batch is one request, named by the methods it carries), whoever sent it: the engine, the keeper,
the set-up. A part's "rpc" column is the time its requests waited for the node; the rest of it is
Python. Times are wall clock: on a busy machine both columns stretch, their shares much less.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web3 import HTTPProvider

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The project root goes on the path first, so these imports follow it.
from keeper.runner import Keeper  # noqa: E402
from replay import engine  # noqa: E402
from replay.__main__ import run_replay  # noqa: E402

# (class, method, part): the parts of a replay; "step" holds what the others leave (poke, mining, timestamps)
PARTS = [
    (engine.Engine, "setup", "set-up (deploy, open positions)"),
    (engine.Engine, "_move_market", "market moves (feeds, market maker, LP, flows)"),
    (engine.Engine, "_dlp_quote", "DLP quotes"),
    (engine.Engine, "_baseline", "baseline watcher"),
    (Keeper, "cycle", "keeper cycle()"),
    (engine.Engine, "_liquidate", "liquidator"),
    (engine.Engine, "_observe", "recording (events, states, prices)"),
    (engine.Engine, "step", "step"),
]


class Profile:
    def __init__(self) -> None:
        self.part_s: Counter[str] = Counter()
        self.part_rpc_s: Counter[str] = Counter()
        self.rpc_s: Counter[str] = Counter()
        self.rpc_n: Counter[str] = Counter()
        self.stack: list[str] = []

    def timed_part(self, fn: Callable[..., Any], part: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.stack.append(part)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                self.part_s[part] += time.perf_counter() - started

        return wrapper

    def timed_rpc(self, fn: Callable[..., Any], batched: bool) -> Callable[..., Any]:
        def wrapper(provider: Any, *args: Any) -> Any:
            label = ("batch of " + ", ".join(sorted({m for m, _ in args[0]}))) if batched else args[0]
            started = time.perf_counter()
            try:
                return fn(provider, *args)
            finally:
                elapsed = time.perf_counter() - started
                self.rpc_s[label] += elapsed
                self.rpc_n[label] += 1
                if self.stack:
                    self.part_rpc_s[self.stack[-1]] += elapsed

        return wrapper

    def install(self) -> None:
        for cls, name, part in PARTS:
            setattr(cls, name, self.timed_part(getattr(cls, name), part))
        # the keeper's transport subclasses HTTPProvider and calls these for whatever it forwards
        HTTPProvider.make_request = self.timed_rpc(HTTPProvider.make_request, batched=False)  # type: ignore[method-assign]
        HTTPProvider.make_batch_request = self.timed_rpc(
            HTTPProvider.make_batch_request,  # type: ignore[method-assign]
            batched=True,
        )

    def table(self, total: float) -> str:
        inner = sum(v for k, v in self.part_s.items() if k not in ("step", PARTS[0][2]))
        parts = dict(self.part_s)
        step_rest = parts.pop("step", 0.0) - inner
        parts["poke, mining, timestamps (rest of a step)"] = step_rest
        rpc = dict(self.part_rpc_s)
        rpc["poke, mining, timestamps (rest of a step)"] = rpc.pop("step", 0.0)
        rows = ["| part | wall s | share | waiting for the node s | Python s |", "|---|---:|---:|---:|---:|"]
        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            waited = rpc.get(part, 0.0)
            rows.append(
                f"| {part} | {seconds:.1f} | {seconds / total:.1%} | {waited:.1f} | {seconds - waited:.1f} |"
            )
        rows += ["", "| JSON-RPC request | count | wall s | ms each | share |", "|---|---:|---:|---:|---:|"]
        for label, seconds in self.rpc_s.most_common():
            n = self.rpc_n[label]
            rows.append(
                f"| {label} | {n:,} | {seconds:.1f} | {1000 * seconds / n:.2f} | {seconds / total:.1%} |"
            )
        rows.append(
            f"| all | {sum(self.rpc_n.values()):,} | {sum(self.rpc_s.values()):.1f} | | "
            f"{sum(self.rpc_s.values()) / total:.1%} |"
        )
        return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "oct10-usde.yaml"))
    parser.add_argument("--breaker", default="composite")
    parser.add_argument("--out", default=None, help="also write the result JSON here")
    args = parser.parse_args(argv)
    profile = Profile()
    profile.install()
    result, _, wall = run_replay(args.scenario, args.breaker, args.out, progress=False)
    print(f"{result['scenario']} [{args.breaker}]: {result['blocks']:,} blocks in {wall:.1f} s\n")
    print(profile.table(wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
