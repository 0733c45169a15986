"""The one deploy path of a guarded pool market, written against a small chain interface.

GuardedPool's constructor arguments, its seeding, and the wiring to the breaker (register the market
with the pool as venue, grant roles, add the pool as consumer, attach the reopening auction on both
sides, add the designated liquidity providers, centre the band) live here once. Each toolchain
supplies a `Chain`: `ApeChain` (governance's deployment, scripts, contract tests) and
`devchain.Web3Chain` (development chains and the replay). The order of the transactions is part of
the contract: a replay's results depend on its set-up's blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Far enough in the future for any local deployment (the pool takes a deadline).
NO_DEADLINE = 2**64

DEFAULT_FEE_BPS = 30
DEFAULT_BAND_BPS = 500
DEFAULT_BAND_REFRESH_S = 60
DEFAULT_BAND_MAX_AGE_S = 900
DEFAULT_MAX_ORDERS = 200
DEFAULT_DLP_SLOTS = 50


class Chain(Protocol):
    """What the deploy path needs of a toolchain. Contracts and accounts are the toolchain's own
    handles; `address` turns one (or an address string) into its address."""

    def deploy(self, name: str, *args: Any, sender: Any) -> Any: ...

    def transact(self, contract: Any, fn: str, *args: Any, sender: Any) -> Any: ...

    def call(self, contract: Any, fn: str, *args: Any) -> Any: ...

    def address(self, who: Any) -> str: ...

    def mine(self) -> None:
        """Closes the current block (an empty one when nothing is pending)."""
        ...


def address_of(who: Any) -> str:
    """The address of a contract or account handle, of an address string as is, ZERO_ADDRESS for None."""
    if who is None:
        return ZERO_ADDRESS
    return str(who.address if hasattr(who, "address") else who)


class ApeChain:
    """The deploy path through ape: contracts from `project`, senders are ape accounts."""

    def __init__(self, project: Any) -> None:
        self.project = project

    def deploy(self, name: str, *args: Any, sender: Any) -> Any:
        return getattr(self.project, name).deploy(*args, sender=sender)

    def transact(self, contract: Any, fn: str, *args: Any, sender: Any) -> Any:
        return getattr(contract, fn)(*args, sender=sender)

    def call(self, contract: Any, fn: str, *args: Any) -> Any:
        return getattr(contract, fn)(*args)

    def address(self, who: Any) -> str:
        return address_of(who)

    def mine(self) -> None:
        from ape import chain

        chain.mine()


@dataclass(frozen=True)
class PoolTerms:
    """GuardedPool's parameters other than its tokens, breaker, market, oracle and owner."""

    fee_bps: int = DEFAULT_FEE_BPS
    band_bps: int = DEFAULT_BAND_BPS
    band_refresh_s: int = DEFAULT_BAND_REFRESH_S
    band_max_age_s: int = DEFAULT_BAND_MAX_AGE_S
    name: str = "GuardedPool LP"
    symbol: str = "GPLP"


@dataclass(frozen=True)
class AuctionTerms:
    """The reopening auction's constructor parameters and its designated liquidity providers."""

    min_sell_collateral: int
    min_buy_debt: int
    max_orders: int = DEFAULT_MAX_ORDERS
    dlp_slots: int = DEFAULT_DLP_SLOTS
    dlps: tuple[Any, ...] = ()


def default_minimums(collateral_decimals: int, debt_decimals: int) -> tuple[int, int]:
    """Least escrow per order: 1/100 of a collateral unit for sells, one debt unit for buys."""
    return max(1, 10**collateral_decimals // 100), 10**debt_decimals


def guarded_pool_args(
    chain: Chain,
    collateral: Any,
    debt: Any,
    *,
    breaker: Any | None,
    market_id: int,
    oracle: Any | None,
    owner: Any,
    terms: PoolTerms,
) -> tuple[Any, ...]:
    """GuardedPool's constructor arguments; no breaker (or no oracle) is the zero address: no halts
    (or no band)."""
    return (
        chain.address(collateral),
        chain.address(debt),
        terms.fee_bps,
        address_of(breaker),
        market_id,
        address_of(oracle),
        terms.band_bps,
        terms.band_refresh_s,
        terms.band_max_age_s,
        chain.address(owner),
        terms.name,
        terms.symbol,
    )


def deploy_guarded_pool(
    chain: Chain,
    collateral: Any,
    debt: Any,
    *,
    breaker: Any | None,
    market_id: int,
    oracle: Any | None,
    owner: Any,
    terms: PoolTerms,
    sender: Any,
) -> Any:
    args = guarded_pool_args(
        chain, collateral, debt, breaker=breaker, market_id=market_id, oracle=oracle, owner=owner, terms=terms
    )
    return chain.deploy("GuardedPool", *args, sender=sender)


def seed_pool(
    chain: Chain,
    pool: Any,
    deposits: Sequence[tuple[Any, int]],
    *,
    provider: Any,
    minter: Any,
    allowance: int | None = None,
) -> None:
    """Mints `provider` what it lacks of each (token, amount) of `deposits` (collateral then debt), approves
    the pool for `allowance` (the amount when None) and adds the liquidity; then closes the block, so the
    breaker, which reads a venue's state as a block opens, sees the seeded pool from the next one."""
    for token, amount in deposits:
        shortfall = amount - chain.call(token, "balanceOf", chain.address(provider))
        if shortfall > 0:
            chain.transact(token, "mint", chain.address(provider), shortfall, sender=minter)
        chain.transact(
            token, "approve", chain.address(pool), amount if allowance is None else allowance, sender=provider
        )
    (_, amount_collateral), (_, amount_debt) = deposits
    chain.transact(pool, "add_liquidity", amount_collateral, amount_debt, 0, NO_DEADLINE, sender=provider)
    chain.mine()


def register_pool_market(
    chain: Chain,
    breaker: Any,
    pool: Any,
    oracle: Any,
    values: Sequence[int],
    *,
    market_id: int,
    governance: Any,
) -> None:
    """Registers `pool` as the venue of a new market; raises unless it got `market_id` (the id the pool
    was deployed for)."""
    chain.transact(
        breaker,
        "register_market",
        chain.address(pool),
        chain.address(oracle),
        list(values),
        sender=governance,
    )
    registered = int(chain.call(breaker, "market_count")) - 1
    if registered != market_id:
        raise RuntimeError(
            f"market registered as {registered}, pool was deployed for {market_id}: "
            "another registration raced this one; deploy again"
        )


def attach_auction(
    chain: Chain,
    pool: Any,
    breaker: Any,
    market_id: int,
    *,
    terms: AuctionTerms,
    governance: Any,
    sender: Any,
) -> Any:
    """Deploys the pool's reopening auction (owned by governance), names it the pool's and the market's
    auction and adds the designated liquidity providers."""
    auction = chain.deploy(
        "ReopeningAuction",
        chain.address(pool),
        chain.address(governance),
        terms.min_sell_collateral,
        terms.min_buy_debt,
        terms.max_orders,
        terms.dlp_slots,
        sender=sender,
    )
    chain.transact(pool, "set_auction", chain.address(auction), sender=governance)
    chain.transact(breaker, "set_auction", market_id, chain.address(auction), sender=governance)
    for dlp in terms.dlps:
        chain.transact(auction, "add_dlp", chain.address(dlp), sender=governance)
    return auction


def wire_pool_market(
    chain: Chain,
    pool: Any,
    *,
    breaker: Any | None,
    market_id: int,
    oracle: Any | None,
    governance: Any,
    sender: Any,
    register: Sequence[int] | None = None,
    grants: Iterable[tuple[str, Any]] = (),
    consumer: bool = True,
    auction: AuctionTerms | None = None,
    band: bool = True,
) -> Any | None:
    """Wires a deployed, seeded pool, in this order: registers it as the venue of market `market_id` with
    the parameter array `register` (None: the market exists), grants the breaker's roles `grants`
    ([(role constant's name, account)]), adds the pool as the market's consumer, attaches the reopening
    auction `auction`, and centres the band on the oracle (`band`, with an oracle). Returns the auction.
    """
    attached = None
    if breaker is not None:
        if register is not None:
            register_pool_market(
                chain, breaker, pool, oracle, register, market_id=market_id, governance=governance
            )
        for role, account in grants:
            role_id = chain.call(breaker, role)
            chain.transact(breaker, "grantRole", role_id, chain.address(account), sender=governance)
        if consumer:
            chain.transact(breaker, "add_consumer", market_id, chain.address(pool), sender=governance)
        if auction is not None:
            attached = attach_auction(
                chain, pool, breaker, market_id, terms=auction, governance=governance, sender=sender
            )
    if band and oracle is not None:
        chain.transact(pool, "refresh_band", sender=sender)
    return attached


def add_consumer(chain: Chain, breaker: Any, market_id: int, consumer: Any, *, governance: Any) -> None:
    chain.transact(breaker, "add_consumer", market_id, chain.address(consumer), sender=governance)
