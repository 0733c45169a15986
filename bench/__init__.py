"""Benchmark modules run by `make bench` (scripts/bench.py), never by `make test`.

Each module exposes `run(project, accounts) -> dict[str, float]` returning keys from
BENCH.md; scripts/bench.py merges them into bench/results.json and prints a table.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median

MIN_SAMPLES = 5


def median_gas(send: Callable[[int], object], samples: int = MIN_SAMPLES) -> int:
    """Median gasUsed of `samples` whole transactions; `send(i)` returns the i-th receipt."""
    used = [int(send(i).gas_used) for i in range(samples)]
    return int(median(used))
