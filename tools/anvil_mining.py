"""What one `evm_mine` costs on anvil as the chain grows, under each hardfork: why replays run Cancun.

    .venv/bin/python tools/anvil_mining.py [--blocks 3000] [--step 500] [--hardforks prague cancun]

Starts a fresh anvil per hardfork (with the replay's `--prune-history`), mines `--blocks` empty blocks
and prints the mean milliseconds of `evm_mine` over each `--step` blocks. Under Prague, EIP-2935 writes
every block's hash into a system contract's storage, and anvil 1.7.1 rebuilds its state trie from
scratch at every block, so the cost grows with the chain; under Cancun it stays flat.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devchain import Anvil  # noqa: E402 - after the path


def mining_ms(hardfork: str, blocks: int, step: int) -> list[float]:
    with Anvil(extra=["--prune-history", "--hardfork", hardfork]) as node:
        means = []
        for _ in range(blocks // step):
            started = time.perf_counter()
            for _ in range(step):
                node.rpc("evm_mine")
            means.append(1_000 * (time.perf_counter() - started) / step)
        return means


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3_000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--hardforks", nargs="+", default=["prague", "cancun"])
    args = parser.parse_args(argv)
    if args.step < 1 or args.blocks < args.step:
        parser.error("--step must be at least 1 and at most --blocks")
    ends = [f"to {(i + 1) * args.step:,}" for i in range(args.blocks // args.step)]
    print("| hardfork | " + " | ".join(f"ms/block {e}" for e in ends) + " |")
    print("|---|" + "---:|" * len(ends))
    for hardfork in args.hardforks:
        print(
            f"| {hardfork} | "
            + " | ".join(f"{ms:.2f}" for ms in mining_ms(hardfork, args.blocks, args.step))
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
