"""Deploying a ReopeningAuction for a guarded pool and wiring it to the pool and the breaker.

Used by the auction tests, the gas benchmark (`bench/auction.py`) and the demo/replay. One call:

1. deploys the auction for `pool` (its breaker, market, oracle and tokens are read from the pool),
   owned by governance,
2. names it the pool's auction (`GuardedPool.set_auction`) and the market's auction
   (`CircuitBreaker.set_auction`), both signed by governance,
3. registers the designated liquidity providers.

Without step 2 on either side `settle` reverts and the market reopens by time, as before.
The steps are `deployment.wiring.attach_auction`, run through `ApeChain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deployment.wiring import (
    DEFAULT_DLP_SLOTS,
    DEFAULT_MAX_ORDERS,
    ApeChain,
    AuctionTerms,
    address_of,
    attach_auction,
    default_minimums,
)


@dataclass
class AuctionDeployment:
    auction: Any
    pool: Any
    market_id: int
    dlps: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "auction": str(self.auction.address),
            "pool": str(self.pool.address),
            "market_id": self.market_id,
            "dlps": self.dlps,
        }


def deploy_auction(
    project: Any,
    deployer: Any,
    pool: Any,
    breaker: Any,
    *,
    governance: Any,
    dlps: tuple[Any, ...] | list[Any] = (),
    min_sell_collateral: int | None = None,
    min_buy_debt: int | None = None,
    max_orders: int = DEFAULT_MAX_ORDERS,
    dlp_slots: int = DEFAULT_DLP_SLOTS,
    log=lambda _msg: None,
) -> AuctionDeployment:
    """Deploys the pool's reopening auction and makes it the auction of the pool and its market.

    `governance` is an ape account: it owns the auction, the pool and holds the breaker's
    governance role. `breaker` must be the pool's breaker.
    """
    if str(pool.BREAKER()) != str(breaker.address):
        raise ValueError(
            f"pool {pool.address} is guarded by {pool.BREAKER()}, not by breaker {breaker.address}"
        )
    market_id = int(pool.MARKET_ID())
    if min_sell_collateral is None or min_buy_debt is None:
        collateral = project.MockERC20.at(pool.COLLATERAL())
        debt = project.MockERC20.at(pool.DEBT())
        sell, buy = default_minimums(collateral.decimals(), debt.decimals())
        min_sell_collateral = sell if min_sell_collateral is None else min_sell_collateral
        min_buy_debt = buy if min_buy_debt is None else min_buy_debt
    terms = AuctionTerms(min_sell_collateral, min_buy_debt, max_orders, dlp_slots, tuple(dlps))
    auction = attach_auction(
        ApeChain(project), pool, breaker, market_id, terms=terms, governance=governance, sender=deployer
    )
    log(f"ReopeningAuction  {auction.address} (market {market_id})")
    names = [address_of(dlp) for dlp in dlps]
    if names:
        log(f"designated liquidity providers: {', '.join(names)}")
    return AuctionDeployment(auction=auction, pool=pool, market_id=market_id, dlps=names)
