"""The arbitrageur: ties the pool to the external market with finite capital.

It buys collateral in the pool when the pool is below the external market by more than the pool's fee
and its edge, up to the price where the next unit no longer pays, and sells its collateral back into the
pool when the pool is above. It keeps what it buys: the modelled pool stands for the venue that breaks
(Binance spot on 10 October), whose inventory leaves only through withdrawals slower than the event,
so its capital is a stock that a long dislocation exhausts, not a flow recycled every block.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay.actors.markets import Pool

EDGE_BPS = 10  # the least gap, beyond the pool's fee, that the arbitrageur trades


@dataclass(frozen=True)
class Trade:
    sell_collateral: bool
    amount: float  # tokens in: collateral when selling it, debt when buying


def plan_arbitrage(
    pool: Pool, external_price: float, debt: float, collateral: float, band: tuple[float, float] | None
) -> Trade | None:
    """The trade toward `external_price` within the arbitrageur's balances (whole tokens) and the band."""
    low, high = band if band is not None else (0.0, float("inf"))
    edge = pool.fee + EDGE_BPS / 10_000
    if pool.spot < external_price * (1 - edge):
        amount = min(pool.debt_to(min(external_price * (1 - pool.fee), high)), debt)
        return Trade(False, amount) if amount > 0 else None
    if pool.spot > external_price * (1 + edge):
        amount = min(pool.collateral_to(max(external_price * (1 + pool.fee), low)), collateral)
        return Trade(True, amount) if amount > 0 else None
    return None
