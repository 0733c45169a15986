"""Lending positions from a CSV file (columns: collateral, debt, liquidation_threshold_bps).

Rebuilding positions from the lending market's events is the next backend; the file form lets an
operator feed an export of any lending protocol today.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from keeper.indicators import Positions
from keeper.sources.base import Observations


def load_positions(path: Path) -> Positions:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"collateral", "debt", "liquidation_threshold_bps"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns {', '.join(sorted(need))} (has {reader.fieldnames})")
        rows = list(reader)
    arr = np.array(
        [[float(r["collateral"]), float(r["debt"]), float(r["liquidation_threshold_bps"])] for r in rows],
        dtype=float,
    ).reshape(-1, 3)
    return Positions(arr[:, 0], arr[:, 1], arr[:, 2])


class PositionsFileSource:
    name = "positions"

    def __init__(self, files: Mapping[int, Path]) -> None:
        self.files = dict(files)
        self._cache: dict[int, tuple[float, Positions]] = {}

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        out: dict[int, Observations] = {}
        for mid in market_ids:
            path = self.files.get(mid)
            if path is None:
                continue
            try:
                mtime = path.stat().st_mtime
                cached = self._cache.get(mid)
                if cached is None or cached[0] != mtime:
                    self._cache[mid] = (mtime, load_positions(path))
                out[mid] = Observations(positions=self._cache[mid][1])
            except (OSError, ValueError) as exc:
                out[mid] = Observations(errors=[f"positions {path}: {exc}"])
        return out
