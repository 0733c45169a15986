"""Auction fixtures: a guarded pool that is its own breaker market, its reopening auction, actors
by role (governance, guardian, dlp, bidder, seller, anyone), and helpers that drive the breaker
through HALTED -> COOLDOWN -> AUCTION with real transitions."""

from __future__ import annotations

import pytest

from deployment.auction import deploy_auction
from deployment.pool import deploy_pool
from tests.constants import HALTED
from tests.helpers import MAX_UINT256 as MAX  # noqa: F401 (the tests import MAX from here)
from tests.helpers import advance

COL = 10**18  # one collateral unit (18 decimals)
USD = 10**6  # one debt unit (6 decimals)
WAD = 10**18
PRICE = 2_000  # debt per collateral: the reference price the pool is seeded at
SEED_COL = 1_000  # whole collateral units in the pool
MIN_SELL, MIN_BUY = COL // 100, USD  # the deploy helper's default minimum escrows
MAX_ORDERS, DLP_SLOTS = 200, 50
PHASE_OPEN, PHASE_LOCKED, PHASE_SETTLED, PHASE_VOID = 1, 2, 3, 4


def wad(price) -> int:
    """A price in debt per collateral as an 18-decimal integer."""
    return price * WAD if isinstance(price, int) else round(price * 10**6) * 10**12


@pytest.fixture(scope="session")
def dlp(accounts):
    """A designated liquidity provider."""
    return accounts[5]


@pytest.fixture(scope="session")
def bidder(accounts):
    """Buys collateral in the auction."""
    return accounts[6]


@pytest.fixture(scope="session")
def seller(accounts):
    """Sells collateral in the auction."""
    return accounts[7]


@pytest.fixture(scope="session")
def other_bidder(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def breaker(create_breaker):
    """A breaker of the auction tests' own (not the shared session breaker of tests/conftest.py),
    so that the markets registered here never show up in other suites."""
    return create_breaker()


@pytest.fixture(scope="session")
def auction_feed(create_feed):
    return create_feed(answer=PRICE)


@pytest.fixture(scope="session")
def auction_oracle(create_oracle, auction_feed):
    return create_oracle([auction_feed], heartbeat=2 * 86_400)


@pytest.fixture(scope="session")
def deployed_pool(project, deployer, breaker, auction_oracle, governance):
    """A guarded pool seeded at PRICE, registered as a new breaker market with itself as venue."""
    return deploy_pool(
        project,
        deployer,
        breaker,
        None,
        auction_oracle,
        governance=governance,
        liquidity_collateral=SEED_COL,
        price=PRICE,
    )


@pytest.fixture(scope="session")
def pool(deployed_pool):
    return deployed_pool.pool


@pytest.fixture(scope="session")
def collateral(deployed_pool):
    return deployed_pool.collateral


@pytest.fixture(scope="session")
def debt(deployed_pool):
    return deployed_pool.debt


@pytest.fixture(scope="session")
def market(deployed_pool):
    return deployed_pool.market_id


@pytest.fixture(scope="session")
def auction(
    project,
    deployer,
    pool,
    breaker,
    governance,
    dlp,
    bidder,
    seller,
    other_bidder,
    anyone,
    fund,
    collateral,
    debt,
):
    """The pool's reopening auction, wired to the pool and the breaker market; every actor funded."""
    deployed = deploy_auction(project, deployer, pool, breaker, governance=governance, dlps=[dlp])
    for actor in (dlp, bidder, seller, other_bidder, anyone):
        fund(actor, deployed.auction, (collateral, 10_000 * COL), (debt, 20_000_000 * USD))
    return deployed.auction


@pytest.fixture(scope="session")
def create_auction(project, deployer, pool, governance):
    """A bare ReopeningAuction for `pool` (not wired); keyword overrides by constructor name."""

    def create_auction(**overrides):
        args = {
            "pool": pool,
            "owner": governance,
            "min_sell_collateral": MIN_SELL,
            "min_buy_debt": MIN_BUY,
            "max_orders": MAX_ORDERS,
            "dlp_slots": DLP_SLOTS,
        }
        unknown = set(overrides) - set(args)
        assert not unknown, f"unknown auction argument {unknown}"
        args.update(overrides)
        return project.ReopeningAuction.deploy(*args.values(), sender=deployer)

    return create_auction


@pytest.fixture(scope="session")
def phases(breaker, market, guardian, governance, anyone):
    """Drives the market through real breaker transitions."""

    class Phases:
        @staticmethod
        def halt():
            breaker.guardian_trip(market, sender=guardian)

        @staticmethod
        def cooldown():
            if breaker.state(market) != HALTED:
                Phases.halt()
            breaker.force_resume(market, sender=governance)

        @staticmethod
        def auction():
            """From COOLDOWN: let the cool-down elapse (the auction's settle stores it)."""
            advance(breaker.params(market, breaker.P_COOLDOWN_S()))

        @staticmethod
        def elapse_auction():
            """Let the auction phase elapse without settlement, and store it."""
            advance(breaker.params(market, breaker.P_AUCTION_S()))
            breaker.sync(market, sender=anyone)

    return Phases
