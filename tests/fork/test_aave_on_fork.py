"""The Aave v3 steward and BreakerFeed tests of tests/integrations/test_aave_market.py, at Aave's mainnet
addresses.

Offline (default): Aave v3.0 from the npm `@aave/core-v3` artifacts is placed at the mainnet addresses of the
PoolAddressesProvider, Pool, PoolConfigurator, ACLManager and AaveOracle (anvil_setCode on the chain-id-1
stand-in, storage written by the initialize calls), with USDe and USDC at their mainnet addresses and the
collateral priced by the Chainlink USDe/USD feed's address. With FORK_RPC_URL: mainnet's own Aave market at
the pinned block, driven by its impersonated ACL admin; the collateral's feed is a settable Chainlink mock
seeded at 1.00, since a crash cannot be made to happen on mainnet's Chainlink feed. That mode needs an
archive node and has not run in this repository's CI.
"""

from __future__ import annotations

import pytest

from deployment.system import deploy, parse_config
from devchain.aave import MAINNET, aave_at, attach_core, deploy_core, list_reserve, protect
from devchain.npm import chainlink_mock_container
from tests.fork import addresses as A
from tests.fork.conftest import impersonate
from tests.integrations.aave_setup import USDE_BONUS, USDE_LTV, USDE_THRESHOLD

# The same tests, collected here with this module's fixtures.
from tests.integrations.test_aave_market import *  # noqa: F403

PEG = 10**8  # 1.00 in the feed's 8 decimals


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
def usde_feed(fork, deployer):
    """Offline: Chainlink's mock at the USDe/USD feed's mainnet address; online: a settable mock."""
    mock = chainlink_mock_container()
    feed = deployer.deploy(mock, 8, PEG) if fork.online else mock.at(A.CHAINLINK_USDE_USD)
    feed.updateAnswer(PEG, sender=deployer)
    return feed


@pytest.fixture(scope="session")
def aave_core(fork, deployer):
    if fork.online:
        provider = aave_at("PoolAddressesProvider", MAINNET.provider)
        return attach_core(MAINNET, impersonate(provider.getACLAdmin()))
    return deploy_core(deployer, at=MAINNET)


@pytest.fixture(scope="session")
def breaker_market(project, deployer, guardian, keeper, venue, usde_feed):
    # The deploy config asks for three feeds and a majority quorum: two more settable USDe/USD feeds at the
    # peg.
    others = [deployer.deploy(chainlink_mock_container(), 8, PEG) for _ in range(2)]
    feeds = [{"address": feed.address, "heartbeat": 86_400} for feed in (usde_feed, *others)]
    config = parse_config(
        {
            "governance": A.GOVERNANCE,
            "guardian": guardian.address,
            "keepers": [keeper.address],
            "markets": [
                {
                    "name": "USDe/USDC",
                    "venue": {"address": venue.address},
                    "oracle": {"quorum": 2, "feeds": feeds},
                }
            ],
        }
    )
    return deploy(config, deployer, project, live=True, log=lambda _: None).breaker


@pytest.fixture(scope="session")
def protected(project, fork, aave_core, breaker_market, tokens, usde_feed, deployer, governance):
    usde, usdc = tokens
    admin = aave_core.admin
    if fork.online:
        aave_core.configurator.configureReserveAsCollateral(
            usde, USDE_LTV, USDE_THRESHOLD, USDE_BONUS, sender=admin
        )
    else:
        list_reserve(aave_core, usde, usde_feed, ltv=USDE_LTV, threshold=USDE_THRESHOLD, bonus=USDE_BONUS)
        list_reserve(aave_core, usdc, deployer.deploy(chainlink_mock_container(), 8, PEG), borrowing=True)
    return protect(
        project,
        aave_core,
        breaker_market,
        0,
        usde,
        usdc,
        usde_feed,
        deployer=deployer,
        governance=governance,
        aave_admin=admin,
    )


@pytest.fixture(scope="session")
def fund(fork, deployer, usde_whale, usdc_whale):
    def fund(token, who, amount: int) -> None:
        if not fork.online:
            token.faucet(who, amount, sender=deployer)
        else:
            token.transfer(who, amount, sender=usde_whale if token.address == A.USDE else usdc_whale)

    return fund


@pytest.fixture(scope="session")
def set_price(deployer):
    def set_price(feed, price: float) -> None:
        feed.updateAnswer(round(price * PEG), sender=deployer)

    return set_price


def test_fork__aave_core_at_mainnet_addresses(protected):
    core = protected.core
    assert core.provider.address == MAINNET.provider
    assert (core.provider.getPool(), core.provider.getPoolConfigurator()) == (
        MAINNET.pool,
        MAINNET.configurator,
    )
    assert (core.provider.getACLManager(), core.provider.getPriceOracle()) == (
        MAINNET.acl_manager,
        MAINNET.oracle,
    )
    assert core.oracle.getSourceOfAsset(A.USDE) == protected.feed.address
    assert core.acl.isRiskAdmin(protected.steward)
    assert protected.feed.UNDERLYING() in (A.CHAINLINK_USDE_USD, protected.underlying_feed.address)
