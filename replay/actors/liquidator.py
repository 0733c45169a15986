"""Where the liquidator sells what it seized: to the better of the pool and the external market, never
below the best quote less its slippage limit; what it cannot sell there waits for the next block."""

from __future__ import annotations

from dataclasses import dataclass

from replay.actors.markets import ExternalBook, Pool


@dataclass(frozen=True)
class Sale:
    to_pool: float  # collateral tokens
    to_external: float
    limit: float  # the lowest marginal price accepted


def plan_sale(
    inventory: float,
    pool: Pool | None,
    book: ExternalBook,
    max_slippage_bps: int,
    pool_floor: float = 0.0,
) -> Sale:
    """Splits `inventory` between the pool (None when it is closed; never below `pool_floor`, its band)
    and the book so that both end at the same marginal price, as high as possible and at least
    the best quote less `max_slippage_bps`: selling the next token where it fetches more."""
    best = max(pool.spot if pool is not None else 0.0, book.price)
    limit = best * (1 - max_slippage_bps / 10_000)

    def split(price: float) -> tuple[float, float]:
        to_pool = pool.collateral_to(max(price, pool_floor)) if pool is not None else 0.0
        return to_pool, book.collateral_to(price)

    if inventory <= 0:
        return Sale(0.0, 0.0, limit)
    to_pool, to_external = split(limit)
    if to_pool + to_external > inventory:  # the limit is not reached: find the common marginal price
        low, high = limit, best
        for _ in range(60):
            mid = (low + high) / 2
            if sum(split(mid)) > inventory:
                low = mid
            else:
                high = mid
        to_pool, to_external = split(high)
    return Sale(to_pool, to_external, limit)
