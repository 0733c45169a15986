"""A local Aave v3 market from the npm artifacts, its USDe-like collateral protected by the breaker."""

from __future__ import annotations

import pytest

from devchain.aave import deploy_core, list_reserve, protect
from devchain.npm import chainlink_mock_container
from tests.integrations.aave_setup import USDE_BONUS, USDE_LTV, USDE_THRESHOLD


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def borrower(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def cautious_borrower(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def liquidator(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def aave_core(governance):
    """Aave v3.0 core; governance is its ACL admin and pool admin."""
    return deploy_core(governance)


@pytest.fixture(scope="session")
def usde(project, deployer):
    return project.FaucetToken.deploy("USDe", "USDe", 18, sender=deployer)


@pytest.fixture(scope="session")
def usdc(project, deployer):
    return project.FaucetToken.deploy("USD Coin", "USDC", 6, sender=deployer)


@pytest.fixture(scope="session")
def usde_feed(create_feed):
    """The collateral's Chainlink USDe/USD feed (8 decimals), also the breaker's reference."""
    return create_feed(1.0, 8)


@pytest.fixture(scope="session")
def usdc_feed(deployer):
    """USDC/USD: Chainlink's own MockV3Aggregator (AaveOracle reads `latestAnswer`)."""
    return deployer.deploy(chainlink_mock_container(), 8, 10**8)


@pytest.fixture(scope="session")
def usde_market(breaker, venue, create_oracle, usde_feed, governance, params_array):
    """The breaker's USDe market: the mock venue against a reference of the USDe/USD feed."""
    oracle = create_oracle([usde_feed])
    breaker.register_market(venue, oracle, params_array(), sender=governance)
    return breaker.market_count() - 1


@pytest.fixture(scope="session")
def protected(
    project, aave_core, breaker, usde_market, usde, usdc, usde_feed, usdc_feed, deployer, governance
):
    list_reserve(aave_core, usde, usde_feed, ltv=USDE_LTV, threshold=USDE_THRESHOLD, bonus=USDE_BONUS)
    list_reserve(aave_core, usdc, usdc_feed, borrowing=True)
    return protect(
        project,
        aave_core,
        breaker,
        usde_market,
        usde,
        usdc,
        usde_feed,
        deployer=deployer,
        governance=governance,
        aave_admin=governance,
    )


@pytest.fixture(scope="session")
def fund(deployer):
    def fund(token, who, amount: int) -> None:
        token.faucet(who, amount, sender=deployer)

    return fund


@pytest.fixture(scope="session")
def set_price(deployer):
    """Moves the collateral's underlying Chainlink feed (a venue crash reaching the feed)."""

    def set_price(feed, price: float) -> None:
        feed.set_answer(round(price * 10**8), sender=deployer)

    return set_price
