"""The two markets the actors trade, as the actors price them.

The modelled pool is x*y=k with the fee taken on the input (GuardedPool's `_amount_out`). The external
market stands for the reference venues: its price is the reference (the feeds' median) at the start of
every block, and selling into it moves its price linearly, `depth_1pct_usd` per 1%, within the block.
Its price is exogenous: what the model's actors trade there never reaches the reference series (the
reference venues are assumed deeper than the model's flows across blocks; within a block their depth is
finite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Pool:
    """The pool's reserves in whole tokens and its fee as a share of the input."""

    x: float  # collateral
    y: float  # debt
    fee: float

    @property
    def spot(self) -> float:
        return self.y / self.x

    def collateral_to(self, price: float) -> float:
        """Collateral to sell for the marginal price to fall to `price` (0 when it is already there)."""
        if price <= 0 or price >= self.spot:
            return 0.0
        return (math.sqrt(self.x * self.y / price) - self.x) / (1 - self.fee)

    def debt_to(self, price: float) -> float:
        """Debt to pay in for the marginal price to rise to `price` (0 when it is already there)."""
        if price <= self.spot:
            return 0.0
        return (math.sqrt(self.x * self.y * price) - self.y) / (1 - self.fee)

    def sell(self, collateral: float) -> tuple[Pool, float]:
        """The pool after a sale of `collateral`, and the debt it pays out."""
        net = collateral * (1 - self.fee)
        out = self.y * net / (self.x + net)
        return Pool(self.x + collateral, self.y - out, self.fee), out

    def buy(self, debt: float) -> tuple[Pool, float]:
        """The pool after `debt` is paid in, and the collateral it pays out."""
        net = debt * (1 - self.fee)
        out = self.x * net / (self.y + net)
        return Pool(self.x - out, self.y + debt, self.fee), out


@dataclass
class ExternalBook:
    """The external market within one block: `sold` collateral already sold into it by the actors."""

    mid: float
    depth_1pct_usd: float
    sold: float = 0.0

    def _per_token(self) -> float:
        """Price fall, as a share of mid, per token sold."""
        return self.mid / (100 * self.depth_1pct_usd)

    @property
    def price(self) -> float:
        return self.mid * max(0.0, 1 - self.sold * self._per_token())

    def collateral_to(self, price: float) -> float:
        """Collateral to sell for its marginal price to fall to `price`."""
        if price >= self.price:
            return 0.0
        return (self.price - max(price, 0.0)) / (self.mid * self._per_token())

    def sell(self, collateral: float) -> float:
        """Sells `collateral` into the book; returns the debt it pays (the area under the linear book)."""
        start = self.price
        self.sold += collateral
        return collateral * (start + self.price) / 2


def weighted_median(values: list[tuple[float, float]]) -> float:
    """The weighted median of (value, weight) pairs: the lowest value whose cumulative weight reaches
    half the total (Chainlink's aggregators take the median of their sources)."""
    ordered = sorted((v, w) for v, w in values if w > 0)
    if not ordered:
        raise ValueError("weighted_median: no value with a positive weight")
    half, seen = sum(w for _, w in ordered) / 2, 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= half:
            return value
    return ordered[-1][0]
