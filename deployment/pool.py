"""Deploying a GuardedPool on a local chain and attaching it to the breaker.

Used by the pool tests, the gas benchmark (`bench/pool.py`) and, later, the demo. One call
gives a seeded pool whose swaps the breaker can halt:

1. deploys the two mock tokens unless given (collateral 18 decimals, debt 6 by default),
2. deploys the pool with governance as owner and seeds it at the reference price,
3. with a breaker: registers a new market with the pool itself as venue (``market_id=None``)
   or attaches to an existing market, then adds the pool as a consumer of that market, so
   every stored transition reaches ``on_breaker_state``,
4. with an oracle: centres the price band on the reference price.

``breaker=None`` and ``oracle=None`` give the unguarded variant (same bytecode).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keeper import params as P

WAD = 10**18
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Far enough in the future for any local deployment (the pool takes a deadline).
NO_DEADLINE = 2**64

DEFAULT_FEE_BPS = 30
DEFAULT_BAND_BPS = 500
DEFAULT_BAND_REFRESH_S = 60
DEFAULT_BAND_MAX_AGE_S = 900


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


def _address(contract: Any) -> str:
    return ZERO_ADDRESS if contract is None else str(contract.address)


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
    tx = {"sender": deployer}
    if breaker is None and market_id is not None:
        raise ValueError("market_id given without a breaker")
    if price is None:
        if oracle is None:
            raise ValueError("give `price=` for a pool without a reference oracle")
        price = _reference_price(oracle)
    price = Decimal(str(price))

    if collateral is None:
        collateral = project.MockERC20.deploy("Mock collateral", "COL", collateral_decimals, **tx)
    if debt is None:
        debt = project.MockERC20.deploy("Mock debt", "DEBT", debt_decimals, **tx)
    amount_collateral = int(Decimal(str(liquidity_collateral)) * 10 ** collateral.decimals())
    amount_debt = int(Decimal(str(liquidity_collateral)) * price * 10 ** debt.decimals())

    register = breaker is not None and market_id is None
    if register and oracle is None:
        raise ValueError("registering the pool as a breaker market needs a reference oracle")
    if breaker is not None and register:
        market_id = breaker.market_count()
    pool = project.GuardedPool.deploy(
        collateral.address,
        debt.address,
        fee_bps,
        _address(breaker),
        market_id or 0,
        _address(oracle),
        band_bps,
        band_refresh_s,
        band_max_age_s,
        governance.address,
        name,
        symbol,
        **tx,
    )
    log(f"GuardedPool       {pool.address} ({'guarded' if breaker else 'unguarded'})")

    for token, amount in ((collateral, amount_collateral), (debt, amount_debt)):
        if token.balanceOf(deployer) < amount:
            token.mint(deployer, amount - token.balanceOf(deployer), **tx)
        token.approve(pool.address, amount, **tx)
    pool.add_liquidity(amount_collateral, amount_debt, 0, NO_DEADLINE, **tx)

    if breaker is not None:
        if register:
            values = P.resolve(market_params)
            receipt = breaker.register_market(
                pool.address, _address(oracle), P.as_array(values), sender=governance
            )
            registered = (
                receipt.return_value if receipt.return_value is not None else breaker.market_count() - 1
            )
            if registered != market_id:
                raise RuntimeError(
                    f"market registered as {registered}, pool was deployed for {market_id}: "
                    "another registration raced this one; deploy again"
                )
            log(f"market {market_id}: venue = the pool, oracle {_address(oracle)}")
        breaker.add_consumer(market_id, pool.address, sender=governance)
        log(f"pool is a consumer of breaker market {market_id}")
    if oracle is not None:
        pool.refresh_band(**tx)
    return PoolDeployment(pool=pool, collateral=collateral, debt=debt, market_id=market_id)
