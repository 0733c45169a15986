"""The guarded pool as the breaker's venue: evidence is what previous blocks left, so bundles
that distort the pool, call the breaker and restore it inside one transaction prove nothing."""

import ape
import pytest

from deployment.pool import deploy_pool
from tests.constants import HALTED, NORMAL
from tests.helpers import hold
from tests.unit.pool.conftest import COL, DEADLINE, PRICE, USD

ARM, TRIP, POKE = 1, 2, 4


@pytest.fixture
def thin_pool(project, deployer, breaker, create_oracle, create_feed, governance, lp):
    """A pool registered as its own market, its LPs gone down to ~15% of the registered depth:
    thin (R_L below the trip level) but at the reference price."""
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project, deployer, breaker, None, oracle, governance=governance, liquidity_collateral=1_000
    )
    pool = deployed.pool
    pool.transfer(lp, pool.balanceOf(deployer), sender=deployer)
    pool.remove_liquidity(pool.balanceOf(lp) * 85 // 100, 0, 0, sender=lp)
    ape.chain.mine()  # views show the latest block's start: the next one shows the withdrawal
    assert breaker.indicators(deployed.market_id).rl_bps < 2_000
    return deployed


@pytest.fixture
def attacker(project, deployer, anyone, thin_pool):
    """A flash-tripper contract holding what a flash loan would lend it."""
    contract = project.PoolFlashTripper.deploy(sender=anyone)
    thin_pool.collateral.mint(contract, 10_000 * COL, sender=deployer)
    thin_pool.debt.mint(contract, 10_000 * PRICE * USD, sender=deployer)
    contract.approve(thin_pool.pool, sender=anyone)
    return contract


@pytest.mark.threat
def test_trip__flash_arm_bundle_then_flash_trip_bundle_on_the_pool_stays_normal(
    breaker, thin_pool, attacker, anyone
):
    """Finding 1 on the guarded pool: sell ~4% below the reference inside the band, call the
    breaker, buy back; the arm-only bundle in block b and the trip-only bundle in b+1."""
    mid, pool = thin_pool.market_id, thin_pool.pool
    with ape.reverts("CircuitBreaker: deviation below trip threshold"):
        attacker.sell_call_unwind(breaker, mid, pool, 3 * COL, ARM, sender=anyone)
    with ape.reverts("CircuitBreaker: not armed"):
        attacker.sell_call_unwind(breaker, mid, pool, 3 * COL, TRIP, sender=anyone)
    assert breaker.state(mid) == NORMAL and pool.breaker_state() == NORMAL


@pytest.mark.threat
def test_trip__sell_held_across_blocks_on_the_pool_trips(breaker, thin_pool, trader, deployer, anyone):
    """The same sell held across the blocks from arm to confirmation, and over rule A's hold,
    is evidence."""
    mid, pool = thin_pool.market_id, thin_pool.pool
    thin_pool.collateral.mint(trader, 3 * COL, sender=deployer)
    thin_pool.collateral.approve(pool, 3 * COL, sender=trader)
    pool.swap(True, 3 * COL, 0, DEADLINE, sender=trader)
    hold()
    breaker.arm_trip(mid, sender=anyone)
    breaker.trip(mid, sender=anyone)
    assert breaker.state(mid) == HALTED


@pytest.mark.threat
def test_trip__unwound_before_the_confirmation_on_the_pool_reverts(
    breaker, thin_pool, attacker, trader, deployer, anyone
):
    """Arm on a real dislocation, arbitrage brings it back, a flash sell at the confirmation is
    no evidence that the deviation held."""
    mid, pool = thin_pool.market_id, thin_pool.pool
    thin_pool.collateral.mint(trader, 3 * COL, sender=deployer)
    thin_pool.collateral.approve(pool, 3 * COL, sender=trader)
    thin_pool.debt.approve(pool, 2**256 - 1, sender=trader)
    debt_out = pool.swap(True, 3 * COL, 0, DEADLINE, sender=trader).return_value
    breaker.arm_trip(mid, sender=anyone)
    pool.swap(False, debt_out, 0, DEADLINE, sender=trader)  # the arbitrage
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        attacker.sell_call_unwind(breaker, mid, pool, 3 * COL, TRIP, sender=anyone)
    assert breaker.state(mid) == NORMAL


@pytest.mark.threat
def test_poke__flash_liquidity_at_a_depth_sample_is_not_sampled(breaker, thin_pool, attacker, anyone):
    """Finding 2 on the guarded pool: add liquidity, poke at the sample, remove it, in one
    transaction; the sample is the depth the previous block left and the baseline does not move."""
    mid, pool = thin_pool.market_id, thin_pool.pool
    baseline = breaker.depth_baseline(mid)
    settled = pool.settled_depth(breaker.params(mid, breaker.P_DEPTH_BAND_BPS()))
    ape.chain.pending_timestamp += breaker.DEPTH_SAMPLE_INTERVAL()
    receipt = attacker.add_call_remove(
        breaker, mid, pool, 9_000 * COL, 9_000 * PRICE * USD, POKE, sender=anyone
    )
    [event] = receipt.decode_logs(breaker.DepthSampled)
    assert event.depth == settled
    assert breaker.depth_baseline(mid) == baseline
