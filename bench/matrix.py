"""The efficacy matrix on the distributed runner (docs/replay.md): `replay.matrix_s`.

The oct10-usde efficacy matrix, every world x 20 seeds, on the local cluster of 2 workers.
BENCH_MATRIX_SEEDS=N runs N seeds instead (N < 20); then `replay.matrix_sample_s` is that run's wall time
and `replay.matrix_projected_s` the full matrix's, scaled by the number of cells.
`replay.matrix_per_replay_s` is the mean wall time of one replay inside the run, and
`replay.matrix_projected_s_<N>w` the full matrix on N such workers (ceil(cells / N) replays each, one
after the other). The runner's overhead is bench/cluster.py.

Run alone: `BENCH_ONLY=matrix ape run bench`. Every replay starts its own anvil: the benchmark network
is not touched.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from bench.cluster import SCENARIO, on_cluster
from replay.cells import Cell
from replay.world import PROTECTIONS

FULL_SEEDS = 20
PROJECTED_WORKERS = (2, 8, 32)


def run(project, accounts) -> dict[str, float]:
    figures: dict[str, float] = {}
    seeds = int(os.environ.get("BENCH_MATRIX_SEEDS", str(FULL_SEEDS)))
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp:
        cells = [Cell.of(SCENARIO, world, seed) for world in PROTECTIONS for seed in range(seeds)]
        wall, outcomes = on_cluster(cells, Path(tmp) / "matrix")
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
