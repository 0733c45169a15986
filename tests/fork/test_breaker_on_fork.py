"""The breaker against mainnet state: the deploy, the real feed and venue, trips and resumes.

Each test names the threat it covers; docs/auditors.md lists them.
"""

import ape
import pytest

from deployment.system import deploy, parse_config
from tests.constants import COOLDOWN, HALTED, NORMAL
from tests.fork import addresses as A

WAD = 10**18


@pytest.fixture
def deployment(project, deployer, governance, guardian, keeper, venue):
    config = parse_config(
        {
            "governance": A.GOVERNANCE,
            "guardian": guardian.address,
            "keepers": [keeper.address],
            "markets": [
                {
                    "name": "USDe/USDC",
                    "venue": {"address": venue.address},
                    "oracle": {
                        "quorum": 2,
                        "feeds": [
                            {"address": feed, "heartbeat": 86_400}
                            for feed in (A.CHAINLINK_USDE_USD, *A.USDE_USD_STANDINS)
                        ],
                    },
                }
            ],
        }
    )
    return deploy(config, deployer, project, live=True, log=lambda _: None)


@pytest.fixture
def breaker(deployment):
    return deployment.breaker


def test_deploy__on_fork_hands_roles_to_governance(deployment, deployer, guardian, keeper):
    """Threat: a deployer key that keeps power after launch."""
    breaker = deployment.breaker
    assert breaker.hasRole(breaker.GOVERNANCE_ROLE(), A.GOVERNANCE)
    assert not breaker.hasRole(breaker.GOVERNANCE_ROLE(), deployer)
    assert breaker.hasRole(breaker.GUARDIAN_ROLE(), guardian)
    assert breaker.hasRole(breaker.KEEPER_ROLE(), keeper)
    assert deployment.markets[0].oracle.owner() == A.GOVERNANCE


def test_indicators__real_feed_and_venue(breaker, tokens):
    """The breaker reads the Chainlink USDe/USD feed and the venue with real decimals (USDC has 6)."""
    usde, usdc = tokens
    assert (usde.decimals(), usdc.decimals()) == (18, 6)
    ind = breaker.indicators(0)
    assert ind.reference_valid
    assert 0.98 * WAD < ind.reference < 1.02 * WAD
    assert 0.98 * WAD < ind.spot < 1.02 * WAD  # 6-decimal USDC scaled to 18: not 1e-12, not 1e12
    assert ind.cvd_bps < 100
    assert ind.rl_bps == 10_000
    assert breaker.depth_baseline(0) > 10_000 * WAD


def test_guardian_trip_then_permissionless_resume(breaker, guardian, anyone, governance):
    """Threat: a stuck halt. After N anyone resumes the recovered market; the restart phases elapse."""
    breaker.guardian_trip(0, sender=guardian)
    assert breaker.state(0) == HALTED
    ape.chain.pending_timestamp += breaker.halt_window(0)
    breaker.arm_resume(0, sender=anyone)
    breaker.resume(0, sender=anyone)
    assert breaker.state(0) == COOLDOWN
    ape.chain.pending_timestamp += 360
    breaker.sync(0, sender=anyone)
    assert breaker.state(0) == NORMAL


def test_set_param__impersonated_governance(breaker, governance, anyone):
    """Threat: parameter changes by anyone but governance (the timelock)."""
    receipt = breaker.set_param(0, 0, 400, sender=governance)
    assert receipt.decode_logs(breaker.ParameterSet)[0].new == 400
    with ape.reverts("access_control: account is missing role"):
        breaker.set_param(0, 0, 50, sender=anyone)


def _sell_usde(pair, usde, seller, amount: int) -> None:
    """A market sell straight into the pair (token0 = USDe, token1 = USDC), as a router would."""
    r_usde, r_usdc, _ = pair.getReserves()
    out = r_usdc * amount * 997 // (r_usde * 1000 + amount * 997)
    usde.transfer(pair.address, amount, sender=seller)
    pair.swap(0, out, seller.address, b"", sender=seller)


def _buy_usde(pair, usdc, buyer, usdc_in: int) -> None:
    r_usde, r_usdc, _ = pair.getReserves()
    out = r_usde * usdc_in * 997 // (r_usdc * 1000 + usdc_in * 997)
    usdc.transfer(pair.address, usdc_in, sender=buyer)
    pair.swap(out, 0, buyer.address, b"", sender=buyer)


def _next_block() -> None:
    """A block with a later timestamp: the breaker reads the pair as a block opens, and a pair that
    changed in a block of the same second is not read at all (its opening reserves are gone)."""
    ape.chain.pending_timestamp += 12
    ape.chain.mine()


def test_whale_dump__single_block_does_not_trip(breaker, pair, tokens, usde_whale, anyone):
    """Threat: a whale (or a flash loan) crashes the pool for one block to halt the market.

    A 5M USDe dump moves the price ~44%, but depth on x*y=k only falls with the debt reserve,
    so rule A's depth condition does not hold and nobody can even arm."""
    usde, _ = tokens
    _sell_usde(pair, usde, usde_whale, 5_000_000 * WAD)
    _next_block()
    ind = breaker.indicators(0)
    assert ind.cvd_bps > 3_000
    with ape.reverts("CircuitBreaker: depth above trip threshold"):
        breaker.arm_trip(0, sender=anyone)
    assert breaker.state(0) == NORMAL


def test_whale_dump__liquidity_pulled_for_one_block_cannot_be_confirmed(
    breaker, pair, tokens, deployer, usde_whale, usdc_whale, anyone
):
    """Threat: the LP pulls liquidity and dumps, arms, and restores the next block: the arm can
    never be confirmed once the market is whole again."""
    usde, usdc = tokens
    lp = pair.balanceOf(deployer)
    pair.transfer(pair.address, lp * 9 // 10, sender=deployer)
    pair.burn(deployer.address, sender=deployer)
    _sell_usde(pair, usde, usde_whale, 200_000 * WAD)
    _next_block()
    breaker.arm_trip(0, sender=anyone)
    # next blocks: the price is bought back and the liquidity returns
    _buy_usde(pair, usdc, usdc_whale, 220_000 * 10**6)
    usde.transfer(pair.address, usde.balanceOf(deployer), sender=deployer)
    usdc.transfer(pair.address, usdc.balanceOf(deployer), sender=deployer)
    pair.mint(deployer.address, sender=deployer)
    _next_block()
    # a pair keeps no block-start history: past the block after the arm, nothing confirms on it
    with ape.reverts("CircuitBreaker: venue cannot show every block since the arm"):
        breaker.trip(0, sender=anyone)
    assert breaker.state(0) == NORMAL


def test_rule_a__liquidity_gone_and_price_dislocated_over_two_blocks_trips(
    breaker, pair, tokens, deployer, usde_whale, anyone
):
    """The crash the breaker exists for: makers pull liquidity, the price dislocates from the
    reference, and it is still so a block later."""
    usde, _ = tokens
    lp = pair.balanceOf(deployer)
    pair.transfer(pair.address, lp * 9 // 10, sender=deployer)
    pair.burn(deployer.address, sender=deployer)
    _sell_usde(pair, usde, usde_whale, 100_000 * WAD)
    _next_block()
    breaker.arm_trip(0, sender=anyone)
    receipt = breaker.trip(0, sender=anyone)
    event = receipt.decode_logs(breaker.MarketTripped)[0]
    assert event.reason == breaker.REASON_RULE_A()
    assert event.cvd_bps > 300 and event.rl_bps < 2_000
    assert 0.98 * WAD < event.frozen_price < 1.02 * WAD  # frozen at the Chainlink price, not the pool's


LENDING_PARAMS = [8_500, 5_000, 500, 0, 4 * 10**16, 75 * 10**16, 8_000, 10_000, 3_600, 86_400]


@pytest.fixture
def lending(project, deployment, deployer, governance, tokens, usde_whale, usdc_whale):
    """A LendingMarket on real USDe / USDC, priced from the reference oracle, a consumer of the market:
    the USDC whale supplies, the USDe whale borrows at a health factor of 1.2."""
    usde, usdc = tokens
    breaker, oracle = deployment.breaker, deployment.markets[0].oracle
    market = project.LendingMarket.deploy(
        usdc.address, usde.address, 1, oracle, breaker, 0, 9_000, LENDING_PARAMS, sender=deployer
    )
    breaker.add_consumer(0, market, sender=governance)
    usdc.approve(market, 2**256 - 1, sender=usdc_whale)
    market.supply(2_000_000 * 10**6, sender=usdc_whale)
    usde.approve(market, 2**256 - 1, sender=usde_whale)
    market.deposit_collateral(usde_whale, 1_000_000 * WAD, sender=usde_whale)
    price = oracle.price() / WAD
    market.borrow(int(1_000_000 * price * 0.9 / 1.2 * 10**6), sender=usde_whale)
    return market


def test_freeze_and_grace__real_tokens(breaker, lending, guardian, anyone, usdc_whale, usde_whale, tokens):
    """Threat: liquidations at a broken price, and the cliff when a halt ends. While halted the market
    freezes liquidations and borrowing but repay works; after the resume a grace period follows."""
    _, usdc = tokens
    breaker.guardian_trip(0, sender=guardian)
    assert lending.guard().state == HALTED
    with ape.reverts("LendingMarket: borrowing blocked by the breaker"):
        lending.borrow(10**6, sender=usde_whale)
    usdc.approve(lending, 2**256 - 1, sender=usde_whale)
    before = lending.debt_of(usde_whale)
    lending.repay(usde_whale, 1_000 * 10**6, sender=usde_whale)  # risk-reducing actions always work
    assert lending.debt_of(usde_whale) < before
    with ape.reverts("LendingMarket: liquidations frozen by the breaker"):
        lending.liquidate(usde_whale, 10**6, sender=usdc_whale)
    ape.chain.pending_timestamp += breaker.halt_window(0)
    breaker.arm_resume(0, sender=anyone)
    breaker.resume(0, sender=anyone)
    ape.chain.pending_timestamp += 360
    breaker.sync(0, sender=anyone)
    assert lending.guard().state == NORMAL
    assert lending.guard().grace_until > ape.chain.pending_timestamp
    with ape.reverts("LendingMarket: liquidation grace period"):
        lending.liquidate(usde_whale, 10**6, sender=usdc_whale)
