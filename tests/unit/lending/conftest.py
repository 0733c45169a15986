"""Lending fixtures: tokens (6-decimal borrowable, 18-decimal collateral), a market factory with
defaults, actors by role, and helpers that drive a real CircuitBreaker through its states."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ape.utils import ZERO_ADDRESS

from tests.conftest import WAD

USDC = 10**6  # one unit of the borrowable asset (6 decimals)
COLL = 10**18  # one unit of the collateral (18 decimals)
MAX = 2**256 - 1

# Key order of the market's `params` array (P_* constants in LendingMarket.vy).
PARAM_KEYS = (
    "max_ltv_bps",
    "close_factor_bps",
    "liquidation_bonus_bps",
    "base_rate",
    "slope_1",
    "slope_2",
    "kink_bps",
    "halt_rate_multiplier_bps",
    "max_grace_s",
    "ramp_min_s",
)
DEFAULTS = {
    "max_ltv_bps": 7_000,
    "close_factor_bps": 5_000,
    "liquidation_bonus_bps": 500,
    "base_rate": 0,
    "slope_1": 4 * 10**16,
    "slope_2": 75 * 10**16,
    "kink_bps": 8_000,
    "halt_rate_multiplier_bps": 10_000,
    "max_grace_s": 3_600,
    "ramp_min_s": 86_400,
}
KEY = {name: i for i, name in enumerate(PARAM_KEYS)}
THRESHOLD_BPS = 8_000
PRICE_ORACLE, PRICE_VENUE = 1, 2


def lending_params(**overrides) -> list[int]:
    unknown = set(overrides) - set(DEFAULTS)
    assert not unknown, f"unknown lending parameter {unknown}"
    values = {**DEFAULTS, **overrides}
    return [values[k] for k in PARAM_KEYS]


@pytest.fixture(scope="session")
def lender(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def borrower(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def liquidator(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def other_borrower(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def create_token(project, deployer):
    def create_token(name: str = "Token", symbol: str = "TKN", decimals: int = 18):
        return project.MockLendingToken.deploy(name, symbol, decimals, sender=deployer)

    return create_token


@pytest.fixture(scope="session")
def borrow_token(create_token):
    return create_token("Mock USD Coin", "USDC", 6)


@pytest.fixture(scope="session")
def collateral_token(create_token):
    return create_token("Mock Ethena USDe", "USDe", 18)


@pytest.fixture(scope="session")
def create_market(project, governance, borrow_token, collateral_token, breaker, market_id, oracle, venue):
    """Deploys a market; `guarded=True` attaches the shared breaker's market 0 as a consumer."""

    def create_market(
        guarded: bool = True,
        price_kind: int = PRICE_ORACLE,
        price_source=None,
        threshold_bps: int = THRESHOLD_BPS,
        **overrides,
    ):
        source = price_source or (oracle if price_kind == PRICE_ORACLE else venue)
        market = project.LendingMarket.deploy(
            borrow_token,
            collateral_token,
            price_kind,
            source,
            breaker if guarded else ZERO_ADDRESS,
            market_id,
            threshold_bps,
            lending_params(**overrides),
            sender=governance,
        )
        if guarded:
            breaker.add_consumer(market_id, market, sender=governance)
        return market

    return create_market


@pytest.fixture(scope="session")
def market(create_market):
    """Guarded, priced by the reference oracle, interest off so that amounts are exact
    (tests of interest deploy with `create_market()` defaults)."""
    return create_market(slope_1=0, slope_2=0)


@pytest.fixture(scope="session")
def unguarded_market(create_market):
    """The same code with breaker = empty(address), interest off."""
    return create_market(guarded=False, slope_1=0, slope_2=0)


@pytest.fixture(scope="session")
def fund(borrow_token, collateral_token):
    """Mints tokens to an actor and approves the market for everything."""

    def fund(market, actor, usdc: int = 0, coll: int = 0):
        if usdc:
            borrow_token.mint_for_testing(actor, usdc, sender=actor)
        if coll:
            collateral_token.mint_for_testing(actor, coll, sender=actor)
        borrow_token.approve(market, MAX, sender=actor)
        collateral_token.approve(market, MAX, sender=actor)

    return fund


@pytest.fixture(scope="session")
def supply(fund, lender):
    """The lender supplies `amount` (default 100,000 USDC)."""

    def supply(market, amount: int = 100_000 * USDC, who=None):
        who = who or lender
        fund(market, who, usdc=amount)
        return market.supply(amount, sender=who)

    return supply


@pytest.fixture(scope="session")
def open_position(fund):
    """`who` deposits `collateral` and borrows `debt`."""

    def open_position(market, who, collateral: int = 10_000 * COLL, debt: int = 7_000 * USDC):
        fund(market, who, coll=collateral)
        market.deposit_collateral(who, collateral, sender=who)
        if debt:
            market.borrow(debt, sender=who)

    return open_position


@pytest.fixture(scope="session")
def set_price(feed, venue, deployer):
    """Moves the reference feed (and with it the oracle) and the venue to `price` (float)."""

    def set_price(price: float, venue_price: float | None = None):
        feed.set_answer(int(Decimal(str(price)) * 10**8), sender=deployer)
        venue.set_price(
            int(Decimal(str(price if venue_price is None else venue_price)) * WAD), sender=deployer
        )

    return set_price


@pytest.fixture(scope="session")
def trip(breaker, market_id, guardian):
    """The guardian trips the breaker's market: every consumer is told HALTED."""

    def trip():
        return breaker.guardian_trip(market_id, sender=guardian)

    return trip


@pytest.fixture(scope="session")
def travel(chain):
    def travel(seconds: int):
        chain.pending_timestamp += seconds
        chain.mine()

    return travel


@pytest.fixture(scope="session")
def resume_to_normal(breaker, market_id, governance, anyone, travel, feed, deployer):
    """Governance forces HALTED -> COOLDOWN; time runs through cool-down and auction; sync -> NORMAL.

    Returns the receipt of the sync that told consumers NORMAL. The feed is refreshed so the
    reference price stays valid after the time travel.
    """

    def resume_to_normal(halted_for: int = 0):
        if halted_for:
            travel(halted_for)
        breaker.force_resume(market_id, sender=governance)
        travel(
            breaker.params(market_id, breaker.P_COOLDOWN_S())
            + breaker.params(market_id, breaker.P_AUCTION_S())
        )
        feed.set_answer(feed.answer(), sender=deployer)
        return breaker.sync(market_id, sender=anyone)

    return resume_to_normal
