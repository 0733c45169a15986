"""The distributed runner's overhead (docs/replay.md): `replay.cluster_overhead`.

12 short replays (oct10-usde's first BENCH_OVERHEAD_BLOCKS blocks, default 150; every world x 2 seeds) on
a local cluster of 2 workers, cluster start and stop included, divided by the same 12 replays run two at a
time in plain processes (a ProcessPoolExecutor of 2, as compare and sweep ran them before). BENCH_OVERHEAD_
ROUNDS rounds (default 2), each in the order processes, cluster, cluster, processes, all summed: a load
that rises or falls during the run weighs on both sides alike, and more rounds average a busy machine's
bursts. Both ways must give the same results (`replay.cluster_results_equal`).

Run alone: `BENCH_ONLY=cluster ape run bench`. Every replay starts its own anvil: the benchmark network
is not touched.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from replay.__main__ import run_replay
from replay.cells import Cell, on_this_machine
from replay.runner import Outcome, run_cells
from replay.world import PROTECTIONS

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "oct10-usde.yaml"
WORKERS = 2  # this machine's cores


def _direct(cell: Cell) -> dict:
    result, _, _ = run_replay(
        on_this_machine(cell.scenario),
        cell.world,
        progress=False,
        params=cell.params_dict or None,
        seed=cell.seed,
        blocks=cell.blocks,
    )
    return result


def in_processes(cells: list[Cell]) -> tuple[float, dict[Cell, dict]]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(zip(cells, pool.map(_direct, cells), strict=True))
    return time.perf_counter() - started, results


def on_cluster(cells: list[Cell], out: Path) -> tuple[float, list[Outcome]]:
    started = time.perf_counter()
    outcomes = list(
        run_cells(cells, lambda c: out / c.filename(), workers=WORKERS, force=True, progress=False)
    )
    failed = [o for o in outcomes if o.result is None]
    if failed:
        raise RuntimeError(
            f"{len(failed)} replays failed on the cluster: {failed[0].cell.label()}: {failed[0].error}"
        )
    return time.perf_counter() - started, outcomes


def run(project, accounts) -> dict[str, float]:
    blocks = int(os.environ.get("BENCH_OVERHEAD_BLOCKS", "150"))
    rounds = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "2"))
    short = [Cell.of(SCENARIO, world, seed, blocks=blocks) for world in PROTECTIONS for seed in (1, 2)]
    plain_s = cluster_s = 0.0
    equal = True
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        for r in range(rounds):
            first, plain = in_processes(short)
            c1, outcomes = on_cluster(short, Path(tmp) / f"{r}-a")
            c2, again = on_cluster(short, Path(tmp) / f"{r}-b")
            second, _ = in_processes(short)
            plain_s += first + second
            cluster_s += c1 + c2
            equal &= all(o.result == plain[o.cell] for o in outcomes + again)
    runs = 2 * rounds
    return {
        "replay.cluster_overhead": round(cluster_s / plain_s, 3),
        "replay.cluster_overhead_cluster_s": round(cluster_s / runs, 1),
        "replay.cluster_overhead_processes_s": round(plain_s / runs, 1),
        "replay.cluster_overhead_rounds": rounds,
        "replay.cluster_results_equal": int(equal),
    }
