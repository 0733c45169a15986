"""Deploying a GuardedPool on a local chain and attaching it to the breaker.

Used by the pool tests, the gas benchmark (`bench/pool.py`) and, later, the demo. One call
gives a seeded pool whose swaps the breaker can halt:

1. deploys the two mock tokens unless given (collateral 18 decimals, debt 6 by default),
2. deploys the pool with governance as owner and seeds it at the reference price,
3. with a breaker: registers a new market with the pool itself as venue (``market_id=None``)
   or attaches to an existing market, then adds the pool as a consumer of that market, so
   every stored transition reaches ``on_breaker_state``,
4. with an oracle: centres the price band on the reference price.

``breaker=None`` and ``oracle=None`` give the unguarded variant (same bytecode). The steps are
`deployment.wiring`'s, run through `ApeChain`: the development chains and the replay run the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from deployment.wiring import (
    DEFAULT_BAND_BPS,
    DEFAULT_BAND_MAX_AGE_S,
    DEFAULT_BAND_REFRESH_S,
    DEFAULT_FEE_BPS,
    NO_DEADLINE,
    ApeChain,
    PoolTerms,
    address_of,
    deploy_guarded_pool,
    seed_pool,
    wire_pool_market,
)
from keeper import params as P

__all__ = ["NO_DEADLINE", "PoolDeployment", "deploy_pool"]  # NO_DEADLINE: for the pool's callers

WAD = 10**18


@dataclass
class PoolDeployment:
    pool: Any
    collateral: Any
    debt: Any
    market_id: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "pool": str(self.pool.address),
            "collateral": str(self.collateral.address),
            "debt": str(self.debt.address),
            "market_id": self.market_id,
        }


def _reference_price(oracle: Any) -> Decimal:
    price, valid_feeds = oracle.latest()
    if price == 0:
        raise ValueError(
            f"reference oracle {oracle.address} is invalid ({valid_feeds} valid feeds, below quorum); "
            "pass `price=` or fix the feeds"
        )
    return Decimal(price) / WAD


def deploy_pool(
    project: Any,
    deployer: Any,
    breaker: Any | None,
    market_id: int | None,
    oracle: Any | None,
    *,
    governance: Any,
    collateral: Any | None = None,
    debt: Any | None = None,
    collateral_decimals: int = 18,
    debt_decimals: int = 6,
    price: Decimal | float | str | None = None,
    liquidity_collateral: Decimal | float | str = 1_000_000,
    fee_bps: int = DEFAULT_FEE_BPS,
    band_bps: int = DEFAULT_BAND_BPS,
    band_refresh_s: int = DEFAULT_BAND_REFRESH_S,
    band_max_age_s: int = DEFAULT_BAND_MAX_AGE_S,
    market_params: dict[str, int] | None = None,
    name: str = "GuardedPool LP",
    symbol: str = "GPLP",
    log=lambda _msg: None,
) -> PoolDeployment:
    """Deploys and seeds a GuardedPool; with a breaker, makes it a consumer of `market_id`.

    `governance` is an ape account: it owns the pool and, with a breaker, signs the market
    registration (when `market_id` is None, the pool itself becomes the new market's venue,
    with `market_params` overriding the defaults) and `add_consumer`.
    The seed liquidity is `liquidity_collateral` whole collateral units at `price` (debt per
    collateral; the oracle's price when not given), minted to `deployer` when this function
    deploys the tokens, otherwise taken from the deployer's balances.
    """
    if breaker is None and market_id is not None:
        raise ValueError("market_id given without a breaker")
    if price is None:
        if oracle is None:
            raise ValueError("give `price=` for a pool without a reference oracle")
        price = _reference_price(oracle)
    price = Decimal(str(price))

    if collateral is None:
        collateral = project.MockERC20.deploy("Mock collateral", "COL", collateral_decimals, sender=deployer)
    if debt is None:
        debt = project.MockERC20.deploy("Mock debt", "DEBT", debt_decimals, sender=deployer)
    amount_collateral = int(Decimal(str(liquidity_collateral)) * 10 ** collateral.decimals())
    amount_debt = int(Decimal(str(liquidity_collateral)) * price * 10 ** debt.decimals())

    register = breaker is not None and market_id is None
    if register and oracle is None:
        raise ValueError("registering the pool as a breaker market needs a reference oracle")
    chain = ApeChain(project)
    if breaker is not None and register:
        market_id = chain.call(breaker, "market_count")
    pool = deploy_guarded_pool(
        chain,
        collateral,
        debt,
        breaker=breaker,
        market_id=market_id or 0,
        oracle=oracle,
        owner=governance,
        terms=PoolTerms(fee_bps, band_bps, band_refresh_s, band_max_age_s, name, symbol),
        sender=deployer,
    )
    log(f"GuardedPool       {pool.address} ({'guarded' if breaker else 'unguarded'})")
    seed_pool(
        chain,
        pool,
        ((collateral, amount_collateral), (debt, amount_debt)),
        provider=deployer,
        minter=deployer,
    )
    wire_pool_market(
        chain,
        pool,
        breaker=breaker,
        market_id=market_id or 0,
        oracle=oracle,
        governance=governance,
        sender=deployer,
        register=P.as_array(P.resolve(market_params)) if register else None,
    )
    if register:
        log(f"market {market_id}: venue = the pool, oracle {address_of(oracle)}")
    if breaker is not None:
        log(f"pool is a consumer of breaker market {market_id}")
    return PoolDeployment(pool=pool, collateral=collateral, debt=debt, market_id=market_id)
