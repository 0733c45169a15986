"""Forcing a rule A trip on the guarded pool by withdrawing liquidity: an attacker holding most
of the LP shares thins the pool for free (withdrawal is fee-free and never locked), then only has
to keep a CVD dislocation at block starts. The hold (`P_HOLD_BLOCKS`) makes it keep the
dislocation against arbitrage at that many consecutive block starts; bench/security.py prices it."""

import ape
import pytest

from deployment.pool import deploy_pool
from tests.constants import HALTED, NORMAL
from tests.unit.pool.conftest import COL, DEADLINE, PRICE

SELL = 3 * COL  # ~4% below the reference on the thinned pool: past the 3% CVD trip, inside the 5% band


@pytest.fixture
def attacker(accounts):
    return accounts[8]


@pytest.fixture
def whale_pool(project, deployer, breaker, create_oracle, create_feed, governance, attacker):
    """A pool registered as its own market; the attacker holds 85% of its LP shares and has
    collateral to sell."""
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project, deployer, breaker, None, oracle, governance=governance, liquidity_collateral=1_000
    )
    pool = deployed.pool
    pool.transfer(attacker, pool.totalSupply() * 85 // 100, sender=deployer)
    deployed.collateral.mint(attacker, 10 * SELL, sender=deployer)
    deployed.collateral.approve(pool, 2**256 - 1, sender=attacker)
    return deployed


def _withdraw_and_sell(whale_pool, attacker) -> int:
    """The attack's set-up: every share withdrawn, then the sell; returns the sell's block."""
    pool = whale_pool.pool
    pool.remove_liquidity(pool.balanceOf(attacker), 0, 0, sender=attacker)
    receipt = pool.swap(True, SELL, 0, DEADLINE, sender=attacker)
    return receipt.block_number


@pytest.mark.threat
def test_trip__lp_withdrawal_and_a_sell_held_at_two_block_starts_reverts(breaker, whale_pool, attacker):
    """The cheapest sequence before the hold: withdraw, sell, arm at the next block start,
    confirm at the one after. Two block starts are no longer enough."""
    mid, pool = whale_pool.market_id, whale_pool.pool
    _withdraw_and_sell(whale_pool, attacker)
    breaker.arm_trip(mid, sender=attacker)
    assert breaker.indicators(mid).rl_bps < breaker.params(mid, breaker.P_RL_TRIP_BPS())
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        breaker.trip(mid, sender=attacker)
    assert breaker.state(mid) == NORMAL and pool.breaker_state() == NORMAL


@pytest.mark.threat
def test_trip__lp_withdrawal_and_a_sell_held_one_block_short_of_the_hold_reverts(
    breaker, whale_pool, attacker
):
    mid = whale_pool.market_id
    hold = breaker.params(mid, breaker.P_HOLD_BLOCKS())
    sold_in = _withdraw_and_sell(whale_pool, attacker)
    breaker.arm_trip(mid, sender=attacker)
    ape.chain.mine(sold_in + hold - 2 - ape.chain.blocks.head.number)
    # the confirmation lands in block sold_in + hold - 1: the starts since the sell are one short
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        breaker.trip(mid, sender=attacker)
    assert breaker.state(mid) == NORMAL


@pytest.mark.threat
def test_trip__lp_withdrawal_and_a_sell_held_over_the_hold_trips(breaker, whale_pool, attacker):
    """What the attack costs now: the dislocation at every one of P_HOLD_BLOCKS block starts
    (here nobody arbitrages; bench/security.py prices one push per block start)."""
    mid, pool = whale_pool.market_id, whale_pool.pool
    hold = breaker.params(mid, breaker.P_HOLD_BLOCKS())
    sold_in = _withdraw_and_sell(whale_pool, attacker)
    breaker.arm_trip(mid, sender=attacker)
    ape.chain.mine(sold_in + hold - 1 - ape.chain.blocks.head.number)
    receipt = breaker.trip(mid, sender=attacker)
    assert receipt.block_number == sold_in + hold
    assert breaker.state(mid) == HALTED and pool.breaker_state() == HALTED


def test_trip__deviation_held_before_the_arm_confirms_in_the_next_block(breaker, whale_pool, attacker):
    """A crash that has already held over the hold when it is armed costs no extra latency:
    the starts before the arm count."""
    mid = whale_pool.market_id
    hold = breaker.params(mid, breaker.P_HOLD_BLOCKS())
    _withdraw_and_sell(whale_pool, attacker)
    ape.chain.mine(hold)
    arm = breaker.arm_trip(mid, sender=attacker)
    receipt = breaker.trip(mid, sender=attacker)
    assert receipt.block_number == arm.block_number + 1
    assert breaker.state(mid) == HALTED
