"""Shared fixtures: actors named by role, and factories that return a function with defaults."""

from __future__ import annotations

import pytest

from keeper import params as P
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL  # noqa: F401 (re-exported for the tests)
from tests.helpers import DEPTH, MAX_UINT256, WAD


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def governance(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def anyone(accounts):
    """An account without any role (a user, an arbitrageur, an attacker)."""
    return accounts[4]


@pytest.fixture(scope="session")
def fund(deployer):
    """Mints `amount` of each token to `account` and approves `spender` for everything."""

    def fund(account, spender, *amounts):
        for token, amount in amounts:
            token.mint(account, amount, sender=deployer)
            token.approve(spender, MAX_UINT256, sender=account)

    return fund


@pytest.fixture
def as_auction(accounts, chain, auction):
    """The `auction` fixture's contract as a sender (impersonated): what only the auction may call."""
    chain.set_balance(auction.address, 10**18)
    return accounts[auction.address]


@pytest.fixture(scope="session")
def create_feed(project, deployer):
    def create_feed(answer: float = 1.0, decimals: int = 8):
        return project.MockAggregator.deploy(decimals, int(answer * 10**decimals), sender=deployer)

    return create_feed


@pytest.fixture(scope="session")
def create_oracle(project, deployer, governance, create_feed):
    def create_oracle(feeds=None, quorum: int = 1, heartbeat: int = 3_600):
        feeds = feeds if feeds is not None else [create_feed()]
        oracle = project.ReferenceOracle.deploy(quorum, sender=deployer)
        for feed in feeds:
            oracle.add_feed(feed, heartbeat, sender=deployer)
        oracle.transfer_ownership(governance, sender=deployer)
        return oracle

    return create_oracle


@pytest.fixture(scope="session")
def create_breaker(project, deployer, governance, guardian, keeper):
    def create_breaker():
        breaker = project.CircuitBreaker.deploy(sender=deployer)
        breaker.grantRole(breaker.GUARDIAN_ROLE(), guardian, sender=deployer)
        breaker.grantRole(breaker.KEEPER_ROLE(), keeper, sender=deployer)
        breaker.grantRole(breaker.GOVERNANCE_ROLE(), governance, sender=deployer)
        breaker.renounceRole(breaker.GOVERNANCE_ROLE(), deployer, sender=deployer)
        return breaker

    return create_breaker


@pytest.fixture(scope="session")
def params_array():
    def params_array(**overrides) -> list[int]:
        return P.as_array(P.resolve(overrides))

    return params_array


@pytest.fixture(scope="session")
def breaker(create_breaker):
    return create_breaker()


@pytest.fixture(scope="session")
def venue(project, deployer):
    return project.MockVenue.deploy(WAD, DEPTH, sender=deployer)


@pytest.fixture(scope="session")
def feed(create_feed):
    return create_feed()


@pytest.fixture(scope="session")
def oracle(create_oracle, feed):
    return create_oracle([feed])


@pytest.fixture(scope="session")
def market_id(breaker, venue, oracle, governance, params_array):
    """Market 0 of the shared breaker, registered with the default parameters."""
    breaker.register_market(venue, oracle, params_array(), sender=governance)
    return 0
