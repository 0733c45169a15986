"""The distributed runner (docs/replay.md): `replay.cluster_overhead` and `replay.matrix_s`.

- `replay.cluster_overhead`: 12 short replays (oct10-usde's first BENCH_OVERHEAD_BLOCKS blocks, default
  150; every world x 2 seeds) on a local cluster of 2 workers, cluster start and stop included, divided
  by the same 12 replays run two at a time in plain processes (a ProcessPoolExecutor of 2, as compare and
  sweep ran them before). Measured in the order processes, cluster, cluster, processes and summed, so a
  load that rises or falls steadily during the run weighs on both sides alike. Both ways must give the
  same results (`replay.cluster_results_equal`).
- `replay.matrix_s`: the oct10-usde efficacy matrix, every world x 20 seeds, on the local cluster.
  BENCH_MATRIX_SEEDS=N runs N seeds instead (N < 20: the full matrix takes long before the faster
  engine); then `replay.matrix_sample_s` is that run's wall time and `replay.matrix_projected_s` the
  full matrix's, scaled by the number of cells. `replay.matrix_per_replay_s` is the mean wall time of
  one replay inside the run, and `replay.matrix_projected_s_<N>w` the full matrix on N such workers
  (ceil(cells / N) replays each, one after the other).

Run alone: `BENCH_ONLY=matrix ape run bench`. Every replay starts its own anvil: the benchmark
network is not touched.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from replay.__main__ import run_replay
from replay.cells import Cell, on_this_machine
from replay.runner import run_cells
from replay.world import PROTECTIONS

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "oct10-usde.yaml"
WORKERS = 2  # this machine's cores
FULL_SEEDS = 20
PROJECTED_WORKERS = (2, 8, 32)


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


def _in_processes(cells: list[Cell]) -> tuple[float, dict[Cell, dict]]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(zip(cells, pool.map(_direct, cells), strict=True))
    return time.perf_counter() - started, results


def _on_cluster(cells: list[Cell], out: Path) -> tuple[float, list]:
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
    figures: dict[str, float] = {}
    blocks = int(os.environ.get("BENCH_OVERHEAD_BLOCKS", "150"))
    seeds = int(os.environ.get("BENCH_MATRIX_SEEDS", str(FULL_SEEDS)))
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp:
        short = [Cell.of(SCENARIO, world, seed, blocks=blocks) for world in PROTECTIONS for seed in (1, 2)]
        plain_first, plain = _in_processes(short)
        cluster_first, outcomes = _on_cluster(short, Path(tmp) / "overhead-1")
        cluster_second, again = _on_cluster(short, Path(tmp) / "overhead-2")
        plain_second, _ = _in_processes(short)
        plain_s, cluster_s = plain_first + plain_second, cluster_first + cluster_second
        figures["replay.cluster_overhead"] = round(cluster_s / plain_s, 3)
        figures["replay.cluster_overhead_cluster_s"] = round(cluster_s / 2, 1)
        figures["replay.cluster_overhead_processes_s"] = round(plain_s / 2, 1)
        figures["replay.cluster_results_equal"] = int(
            all(o.result == plain[o.cell] for o in outcomes + again)
        )

        cells = [Cell.of(SCENARIO, world, seed) for world in PROTECTIONS for seed in range(seeds)]
        wall, outcomes = _on_cluster(cells, Path(tmp) / "matrix")
    full_cells = len(PROTECTIONS) * FULL_SEEDS
    per_replay = sum(o.wall_s for o in outcomes) / len(outcomes)
    figures["replay.matrix_cells"] = len(cells)
    figures["replay.matrix_per_replay_s"] = round(per_replay, 1)
    if seeds >= FULL_SEEDS:
        figures["replay.matrix_s"] = round(wall, 1)
    else:
        figures["replay.matrix_sample_s"] = round(wall, 1)
        figures["replay.matrix_projected_s"] = round(wall * full_cells / len(cells), 1)
    for n in PROJECTED_WORKERS:
        figures[f"replay.matrix_projected_s_{n}w"] = round(math.ceil(full_cells / n) * per_replay, 1)
    return figures
