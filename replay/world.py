"""The system a replay drives: tokens, feeds, oracle, breaker, guarded pool, lending market, borrowers.

Everything is deployed with web3 on a fresh anvil from the contracts' build output
(`make compile`), so a replay runs the same bytecode as production. The worlds (`PROTECTIONS`) are
identical but for how the pool and the lending market are wired to the breaker (`WIRING`); every
world gets the same actors and the same liquidation grace after a halt (`LENDING_MAX_GRACE_S`):

| world            | pool                              | lending market                 | trips by           |
|------------------|-----------------------------------|--------------------------------|--------------------|
| composite        | band + halts, auction and its DLP | breaker consumer: freeze+grace | keeper, rules A/B  |
| band-only        | band (no breaker)                 | unguarded                      | -                  |
| breaker-only     | halts, auction and its DLP        | breaker consumer: freeze+grace | keeper, rules A/B  |
| none             | unguarded                         | unguarded                      | -                  |
| single-threshold | unguarded                         | breaker consumer: freeze+grace | a 20%-drop watcher |
| kill-switch      | unguarded                         | breaker consumer: a pause      | a guardian by hand |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from web3 import Web3
from web3.contract import Contract

from deployment.wiring import (
    AuctionTerms,
    PoolTerms,
    add_consumer,
    default_minimums,
    deploy_guarded_pool,
    seed_pool,
    wire_pool_market,
)
from devchain import Anvil, Web3Chain, deploy, transact
from keeper import params as P
from replay.calls import batch
from replay.population import Borrower
from replay.scenario import Scenario

WAD = 10**18
PRICE_ORACLE, PRICE_VENUE = 1, 2
FEED_DECIMALS = 8
FEED_HEARTBEAT_S = 3_600
SI_NOTIONAL_SHARE = 0.01  # S_I's market sell, as a share of the pool's calm liquidity
# Grace after a halt, the same in every world (the design's, capped at an hour): a world that halts
# liquidations keeps them closed for min(time halted, this) after it reopens.
LENDING_MAX_GRACE_S = 3_600
# Lending parameters other than the scenario's: max LTV, close factor, bonus, base rate, slopes, kink,
# halt rate multiplier, max grace, minimum ramp (LendingMarket.P_* order).
LENDING_RATES = {
    "base_rate": 0,
    "slope_1": 4 * 10**16,
    "slope_2": 75 * 10**16,
    "kink_bps": 8_000,
    "halt_rate_multiplier_bps": 10_000,
    "ramp_min_s": 86_400,
}
# Opening the borrowers' positions: generous explicit gas (no estimate) and fees well above the base fee.
SETUP_GAS = 1_000_000
SETUP_MAX_FEE = 100 * 10**9
SETUP_TIP = 10**9


@dataclass(frozen=True)
class Wiring:
    """What protection a world has; everything else is the same in every world."""

    band: bool  # the pool's price band around the reference (Limit Up-Limit Down)
    pool_halts: bool  # the breaker halts the pool's swaps and reopens it through the auction
    lending_halts: bool  # the breaker freezes liquidations, values at the frozen price, then grace
    trips_by: str  # "keeper" (rules A/B), "single-threshold", "kill-switch" or "" (nobody)

    @property
    def breaker(self) -> bool:
        return self.pool_halts or self.lending_halts


WIRING = {
    "composite": Wiring(band=True, pool_halts=True, lending_halts=True, trips_by="keeper"),
    "band-only": Wiring(band=True, pool_halts=False, lending_halts=False, trips_by=""),
    "breaker-only": Wiring(band=False, pool_halts=True, lending_halts=True, trips_by="keeper"),
    "none": Wiring(band=False, pool_halts=False, lending_halts=False, trips_by=""),
    "single-threshold": Wiring(band=False, pool_halts=False, lending_halts=True, trips_by="single-threshold"),
    "kill-switch": Wiring(band=False, pool_halts=False, lending_halts=True, trips_by="kill-switch"),
}
PROTECTIONS = tuple(WIRING)


@dataclass
class Actors:
    """Accounts (anvil's unlocked development accounts, or impersonated addresses)."""

    governance: str
    keeper: str
    market_maker: str  # trades the pool toward the venue price
    lp: str  # provides the pool's liquidity and follows the depth path
    lender: str
    liquidator: str
    flows: str
    dlp: str  # the designated liquidity provider of the reopening auction (worlds whose pool halts)
    arbitrageur: str  # ties the pool to the external market with finite capital
    external: str  # the external market's account: collateral the liquidator sells there goes to it
    borrowers: list[str] = field(default_factory=list)


@dataclass
class World:
    w3: Web3
    anvil: Anvil
    protection: str
    actors: Actors
    collateral: Contract
    debt: Contract
    feeds: list[Contract]
    oracle: Contract
    breaker: Contract | None
    market_id: int
    pool: Contract
    lending: Contract
    collateral_unit: int
    debt_unit: int
    lt_bps: int
    borrowers: list[Borrower]
    # units of the pool's calm depth: the debt reserve at t = 0
    calm_debt_reserve: int = 0
    auction: Contract | None = None  # the pool's reopening auction (worlds whose pool halts)
    aggregator_feed: Contract | None = None  # the lending market's aggregated feed (price_source aggregator)
    aggregator_oracle: Contract | None = None  # what the lending market reads it through

    @property
    def wiring(self) -> Wiring:
        return WIRING[self.protection]


def _units(amount: float | Decimal, decimals: int) -> int:
    return int(Decimal(str(amount)) * (Decimal(10) ** decimals))


def _impersonated(anvil: Anvil, count: int) -> list[str]:
    """`count` funded, unlocked borrower addresses (one batch of requests)."""
    who = [Web3.to_checksum_address(f"0x{0xB0BB0:05x}{i:035x}") for i in range(count)]
    batch(
        anvil.w3,
        [
            r
            for address in who
            for r in (("anvil_setBalance", [address, hex(10**21)]), ("anvil_impersonateAccount", [address]))
        ],
    )
    return who


def build(
    anvil: Anvil,
    scenario: Scenario,
    protection: str,
    borrowers: list[Borrower],
    *,
    first_price: float,
    first_references: list[float],
    fair_price: float,
    params: dict[str, int] | None = None,
) -> World:
    """Deploys and seeds everything at t = 0 (automine on); returns the world."""
    if protection not in PROTECTIONS:
        raise ValueError(f"breaker must be one of {', '.join(PROTECTIONS)} (got {protection!r})")
    w3 = anvil.w3
    a = w3.eth.accounts
    actors = Actors(
        governance=a[0],
        keeper=a[3],
        market_maker=a[4],
        lp=a[5],
        lender=a[6],
        liquidator=a[7],
        flows=a[8],
        dlp=a[9],
        arbitrageur=a[1],
        external=a[2],
    )
    gov = actors.governance
    m = scenario.market

    collateral = deploy(
        w3, "MockERC20", m.collateral.symbol, m.collateral.symbol, m.collateral.decimals, sender=gov
    )
    debt = deploy(w3, "MockERC20", m.debt.symbol, m.debt.symbol, m.debt.decimals, sender=gov)
    c_unit, d_unit = 10**m.collateral.decimals, 10**m.debt.decimals

    feeds = [
        deploy(w3, "MockAggregator", FEED_DECIMALS, _units(p, FEED_DECIMALS), sender=gov)
        for p in first_references
    ]
    oracle = deploy(w3, "ReferenceOracle", 1, sender=gov)
    for feed in feeds:
        transact(w3, oracle.functions.add_feed(feed.address, FEED_HEARTBEAT_S), gov)

    wiring = WIRING[protection]
    chain = Web3Chain(w3)
    breaker = deploy(w3, "CircuitBreaker", sender=gov) if wiring.breaker else None
    market_id = 0
    pool = deploy_guarded_pool(
        chain,
        collateral,
        debt,
        breaker=breaker if wiring.pool_halts else None,
        market_id=market_id,
        oracle=oracle if wiring.band else None,
        owner=gov,
        terms=PoolTerms(m.pool.fee_bps, m.pool.band_bps, 60, 900, "Replay pool LP", "RPLP"),
        sender=gov,
    )
    # seed: half the value in each asset at the first venue price
    half_usd = m.pool.liquidity_usd / 2
    seed_collateral = _units(half_usd / first_price, m.collateral.decimals)
    seed_debt = _units(half_usd, m.debt.decimals)
    deposits = ((collateral, seed_collateral), (debt, seed_debt))
    seed_pool(chain, pool, deposits, provider=actors.lp, minter=gov, allowance=2**256 - 1)

    # Governance sizes S_I's notional to the pool: 1% of its calm liquidity, so S_I sits near 2%
    # in calm markets and passes the 5% trip level only once depth has fallen below about 40%.
    sized = {"si_notional": int(m.pool.liquidity_usd * SI_NOTIONAL_SHARE) * WAD}
    auction: Contract | None = wire_pool_market(
        chain,
        pool,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        governance=gov,
        sender=gov,
        register=P.as_array(P.resolve(sized | (params or {}))),
        grants=(("KEEPER_ROLE", actors.keeper), ("GUARDIAN_ROLE", gov)),
        consumer=wiring.pool_halts,
        auction=(
            AuctionTerms(*default_minimums(m.collateral.decimals, m.debt.decimals), dlps=(actors.dlp,))
            if wiring.pool_halts
            else None
        ),
        band=wiring.band,
    )
    aggregator_feed, aggregator_oracle = None, None
    if m.lending.price_source == "aggregator":
        # Chainlink-like: the engine posts the weighted median of the venues, the modelled pool among them
        aggregator_feed = deploy(
            w3, "MockAggregator", FEED_DECIMALS, _units(first_price, FEED_DECIMALS), sender=gov
        )
        aggregator_oracle = deploy(w3, "ReferenceOracle", 1, sender=gov)
        transact(w3, aggregator_oracle.functions.add_feed(aggregator_feed.address, FEED_HEARTBEAT_S), gov)
    lending = _deploy_lending(
        w3,
        scenario,
        wiring,
        collateral,
        debt,
        aggregator_oracle if aggregator_oracle is not None else oracle,
        pool,
        breaker,
        market_id,
        gov,
    )
    if wiring.lending_halts:
        add_consumer(chain, breaker, market_id, lending, governance=gov)

    world = World(
        w3,
        anvil,
        protection,
        actors,
        collateral,
        debt,
        feeds,
        oracle,
        breaker,
        market_id,
        pool,
        lending,
        c_unit,
        d_unit,
        m.lending.liquidation_threshold_bps,
        borrowers,
    )
    world.calm_debt_reserve = pool.functions.reserves().call()[1]
    world.auction = auction
    world.aggregator_feed, world.aggregator_oracle = aggregator_feed, aggregator_oracle
    _open_positions(world, anvil, fair_price)
    return world


def _mint_approve(w3: Web3, token: Contract, holder: str, amount: int, spender: str, minter: str) -> None:
    transact(w3, token.functions.mint(holder, amount), minter)
    transact(w3, token.functions.approve(spender, 2**256 - 1), holder)


def _deploy_lending(
    w3: Web3,
    scenario: Scenario,
    wiring: Wiring,
    collateral: Contract,
    debt: Contract,
    oracle: Contract,
    pool: Contract,
    breaker: Contract | None,
    market_id: int,
    gov: str,
) -> Contract:
    """The lending market, priced from the pool (venue) or from `oracle` (the reference, or the aggregated
    feed's oracle)."""
    spec = scenario.market.lending
    lt = spec.liquidation_threshold_bps
    max_ltv = min(9_000, lt - 500)
    params = [
        max_ltv,
        spec.close_factor_bps,
        spec.liquidation_bonus_bps,
        LENDING_RATES["base_rate"],
        LENDING_RATES["slope_1"],
        LENDING_RATES["slope_2"],
        LENDING_RATES["kink_bps"],
        LENDING_RATES["halt_rate_multiplier_bps"],
        LENDING_MAX_GRACE_S,
        LENDING_RATES["ramp_min_s"],
    ]
    kind, source = (
        (PRICE_VENUE, pool.address) if spec.price_source == "venue" else (PRICE_ORACLE, oracle.address)
    )
    guarded = wiring.lending_halts and breaker is not None
    return deploy(
        w3,
        "LendingMarket",
        debt.address,
        collateral.address,
        kind,
        source,
        breaker.address if guarded else "0x" + "00" * 20,
        market_id,
        lt,
        params,
        sender=gov,
    )


def _open_positions(world: World, anvil: Anvil, fair_price: float) -> None:
    """Opens every borrower's position at t = 0 so that its health factor at the fair price is the
    scenario's: positions that old borrowed when the price was higher, so they are opened against a
    setup price source at the level their borrowing needed, then the real price source is restored."""
    w3, gov, lending = world.w3, world.actors.governance, world.lending
    total_debt = sum(b.debt for b in world.borrowers)
    supply = _units(total_debt * 1.25 + 1_000, world.debt.functions.decimals().call())
    _mint_approve(w3, world.debt, world.actors.lender, supply, lending.address, gov)
    transact(w3, lending.functions.supply(supply), world.actors.lender)

    max_ltv = lending.functions.params(0).call() / 10_000
    worst_ltv_at_fair = max(b.debt / (b.collateral * fair_price) for b in world.borrowers)
    setup_price = fair_price * max(1.0, worst_ltv_at_fair / max_ltv) * 1.001
    kind, source = lending.functions.price_kind().call(), lending.functions.price_source().call()
    setup_venue = deploy(w3, "MockVenue", _units(setup_price, 18), WAD, sender=gov)
    transact(w3, lending.functions.set_price_source(PRICE_VENUE, setup_venue.address), gov)

    c_dec = world.collateral.functions.decimals().call()
    d_dec = world.debt.functions.decimals().call()
    total_collateral = sum(_units(b.collateral, c_dec) for b in world.borrowers)
    _mint_approve(w3, world.collateral, gov, total_collateral, lending.address, gov)
    world.actors.borrowers.extend(_impersonated(anvil, len(world.borrowers)))
    # every deposit in one block, then every borrow in the next: a few requests instead of four a borrower
    chain = Web3Chain(w3)
    fees = {"gas": SETUP_GAS, "max_fee": SETUP_MAX_FEE, "tip": SETUP_TIP}
    with chain.together(**fees):
        for who, b in zip(world.actors.borrowers, world.borrowers, strict=True):
            chain.transact(lending, "deposit_collateral", who, _units(b.collateral, c_dec), sender=gov)
    with chain.together(**fees):
        for who, b in zip(world.actors.borrowers, world.borrowers, strict=True):
            if b.debt > 0:
                chain.transact(lending, "borrow", _units(b.debt, d_dec), sender=who)
    transact(w3, lending.functions.set_price_source(kind, source), gov)
