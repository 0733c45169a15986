"""Borrower populations: generated deterministically from a seed, or read from a CSV file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replay.scenario import BorrowersFile, GeneratedBorrowers


@dataclass(frozen=True)
class Borrower:
    """A position to open: collateral in whole tokens, debt in whole debt tokens."""

    collateral: float
    debt: float


def generate(spec: GeneratedBorrowers, fair_price: float, liquidation_threshold_bps: int) -> list[Borrower]:
    """Collateral value ~ lognormal(median, sigma), health factor ~ uniform[low, high] at t = 0.

    Health factor = collateral x price x LT / debt, so debt = collateral x price x LT / HF.
    """
    rng = np.random.default_rng(spec.seed)
    dist = spec.collateral_usd.lognormal
    collateral_usd = dist.median * np.exp(dist.sigma * rng.standard_normal(spec.count))
    low, high = spec.health_factor.uniform
    health = rng.uniform(low, high, spec.count)
    lt = liquidation_threshold_bps / 10_000
    collateral = collateral_usd / fair_price
    debt = collateral_usd * lt / health
    return [Borrower(float(c), float(d)) for c, d in zip(collateral, debt, strict=True)]


def read_file(spec: BorrowersFile, base_dir: Path) -> list[Borrower]:
    path = base_dir / spec.file
    out: list[Borrower] = []
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            try:
                collateral, debt = float(row["collateral"]), float(row["debt"])
            except (KeyError, ValueError) as exc:
                raise ValueError(
                    f"market.borrowers.file: {path.name} line {i}: needs numeric collateral and debt"
                ) from exc
            if collateral <= 0 or debt < 0:
                raise ValueError(
                    f"market.borrowers.file: {path.name} line {i}: collateral must be > 0, debt >= 0"
                )
            out.append(Borrower(collateral, debt))
    if not out:
        raise ValueError(f"market.borrowers.file: {path.name} has no positions")
    return out
