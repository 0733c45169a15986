"""The breaker pushes its state into the pool; swaps run only in NORMAL."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from deployment.pool import deploy_pool
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.helpers import advance, hold
from tests.unit.pool.conftest import COL, DEADLINE, PRICE, USD

CLOSED = {
    HALTED: "GuardedPool: market halted",
    COOLDOWN: "GuardedPool: market in cooldown",
    AUCTION: "GuardedPool: market in reopening auction",
}


def _drive(breaker, market_id, guardian, governance, state):
    """Moves the breaker market (and so the pool) to `state` through real transitions."""
    breaker.guardian_trip(market_id, sender=guardian)
    if state in (COOLDOWN, AUCTION, NORMAL):
        breaker.force_resume(market_id, sender=governance)
    if state in (AUCTION, NORMAL):
        advance(breaker.params(market_id, breaker.P_COOLDOWN_S()))
        breaker.sync(market_id, sender=governance)
    if state == NORMAL:
        advance(breaker.params(market_id, breaker.P_AUCTION_S()))
        breaker.sync(market_id, sender=governance)


def test_add_consumer__pool_told_current_state(create_pool, breaker, market_id, governance):
    pool = create_pool()
    receipt = breaker.add_consumer(market_id, pool, sender=governance)
    assert pool.breaker_state() == NORMAL
    assert receipt.decode_logs(pool.BreakerStateChanged) == [
        pool.BreakerStateChanged(
            market_id=market_id,
            actor=breaker,
            old_state=NORMAL,
            new_state=NORMAL,
            frozen_price=breaker.frozen_price(market_id),
        )
    ]


def test_guardian_trip__halts_pool(pool, breaker, market_id, guardian):
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    assert pool.breaker_state() == HALTED
    assert receipt.decode_logs(pool.BreakerStateChanged) == [
        pool.BreakerStateChanged(
            market_id=market_id,
            actor=breaker,
            old_state=NORMAL,
            new_state=HALTED,
            frozen_price=breaker.frozen_price(market_id),
        )
    ]


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION, NORMAL])
def test_state_words__are_the_breakers_flag_values(pool, breaker, market_id, guardian, governance, state):
    # the pool's getters are modules/breaker_states.vy's words; the breaker returns its ICircuitBreaker flag
    _drive(breaker, market_id, guardian, governance, state)
    word = {NORMAL: pool.NORMAL, HALTED: pool.HALTED, COOLDOWN: pool.COOLDOWN, AUCTION: pool.AUCTION}[state]()
    assert breaker.state(market_id) == pool.breaker_state() == word == state


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION])
@pytest.mark.parametrize("sell_collateral", [True, False])
def test_swap__closed_states_revert(
    pool, breaker, market_id, guardian, governance, trader, state, sell_collateral
):
    _drive(breaker, market_id, guardian, governance, state)
    assert pool.breaker_state() == state
    with ape.reverts(CLOSED[state]):
        pool.swap(sell_collateral, COL if sell_collateral else PRICE * USD, 0, DEADLINE, sender=trader)


def test_swap__reopened_after_auction_rereads_reference(
    pool, breaker, market_id, guardian, governance, trader
):
    _drive(breaker, market_id, guardian, governance, NORMAL)
    assert pool.breaker_state() == NORMAL
    assert pool.band().updated_at == 0  # marked stale at the reopening
    receipt = pool.swap(True, COL, 0, DEADLINE, sender=trader)
    [refreshed] = receipt.decode_logs(pool.BandRefreshed)
    assert (refreshed.actor, refreshed.new_centre, refreshed.valid_feeds) == (trader, PRICE * 10**18, 1)
    assert pool.band().updated_at == receipt.timestamp


def test_swap__reopened_with_invalid_reference_reverts(
    pool, breaker, market_id, guardian, governance, trader, pool_feed, deployer
):
    _drive(breaker, market_id, guardian, governance, NORMAL)
    pool_feed.set_answer(0, sender=deployer)
    with ape.reverts("GuardedPool: reference price invalid and band centre stale"):
        pool.swap(True, COL, 0, DEADLINE, sender=trader)


@pytest.mark.threat
def test_sync__lapse_notifies_pool(pool, breaker, market_id, guardian, anyone):
    breaker.guardian_trip(market_id, sender=guardian)
    advance(breaker.params(market_id, breaker.P_MAX_HALT_S()))
    assert pool.breaker_state() == HALTED  # a stale cache stays on the safe side
    breaker.sync(market_id, sender=anyone)
    assert pool.breaker_state() == COOLDOWN


@pytest.mark.threat
def test_on_breaker_state__not_breaker_reverts(pool, market_id, anyone):
    with ape.reverts("GuardedPool: caller is not the breaker"):
        pool.on_breaker_state(market_id, NORMAL, 0, sender=anyone)


@pytest.fixture
def as_breaker(accounts, breaker, chain):
    """The breaker's own address as a sender (impersonated), for pushes the breaker never makes."""
    chain.set_balance(breaker.address, 10**18)
    return accounts[breaker.address]


def test_on_breaker_state__from_breaker_sets_state(pool, market_id, as_breaker):
    receipt = pool.on_breaker_state(market_id, AUCTION, 123, sender=as_breaker)
    assert pool.breaker_state() == AUCTION
    [event] = receipt.decode_logs(pool.BreakerStateChanged)
    assert (event.old_state, event.new_state, event.frozen_price) == (NORMAL, AUCTION, 123)


@pytest.mark.threat
def test_on_breaker_state__wrong_market_reverts(pool, market_id, as_breaker):
    with ape.reverts("GuardedPool: wrong market"):
        pool.on_breaker_state(market_id + 1, HALTED, 0, sender=as_breaker)


@pytest.mark.parametrize("state", [0, 3, 16])
def test_on_breaker_state__unknown_state_reverts(pool, market_id, as_breaker, state):
    with ape.reverts("GuardedPool: unknown breaker state"):
        pool.on_breaker_state(market_id, state, 0, sender=as_breaker)


def test_on_breaker_state__other_market_trip_reverts_the_trip(
    project, create_pool, breaker, venue, oracle, market_id, governance, guardian, params_array
):
    """A pool registered for market 0 refuses market 1's push, which reverts that transition."""
    other = breaker.register_market(venue, oracle, params_array(), sender=governance).return_value
    pool = create_pool(market_id=market_id)
    with ape.reverts("GuardedPool: wrong market"):
        breaker.add_consumer(other, pool, sender=governance)


def test_on_breaker_state__unguarded_pool_rejects_everyone(unguarded_pool, breaker, anyone):
    assert unguarded_pool.BREAKER() == ZERO_ADDRESS
    with ape.reverts("GuardedPool: caller is not the breaker"):
        unguarded_pool.on_breaker_state(0, HALTED, 0, sender=anyone)


def test_pool_as_venue__rule_a_trip_halts_its_swaps(
    project, deployer, breaker, create_oracle, create_feed, governance, lp, trader, anyone
):
    """The pool is the breaker's venue: LPs leave, a sell dislocates it and holds, rule A trips."""
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project, deployer, breaker, None, oracle, governance=governance, liquidity_collateral=1_000
    )
    pool, collateral = deployed.pool, deployed.collateral
    assert breaker.markets(deployed.market_id).venue == pool.address
    assert pool.address in breaker.consumers(deployed.market_id)

    pool.transfer(lp, pool.balanceOf(deployer), sender=deployer)
    pool.remove_liquidity(pool.balanceOf(lp) * 85 // 100, 0, 0, sender=lp)  # depth falls to ~15%
    collateral.mint(trader, 100 * COL, sender=deployer)
    collateral.approve(pool, 100 * COL, sender=trader)
    pool.swap(True, 3 * COL, 0, DEADLINE, sender=trader)  # ~4% below the reference, inside the band
    hold()  # the breaker reads the pool as blocks open: the sell holds over rule A's hold
    assert breaker.indicators(deployed.market_id).cvd_bps > 300

    breaker.arm_trip(deployed.market_id, sender=anyone)
    receipt = breaker.trip(deployed.market_id, sender=anyone)

    assert pool.breaker_state() == HALTED
    [event] = receipt.decode_logs(pool.BreakerStateChanged)
    assert (event.new_state, event.frozen_price) == (HALTED, PRICE * 10**18)
    with ape.reverts("GuardedPool: market halted"):
        pool.swap(True, COL, 0, DEADLINE, sender=trader)
    assert pool.remove_liquidity(pool.balanceOf(lp), 0, 0, sender=lp).return_value[1] > 0


def test_pool_as_venue__closed_pool_cannot_retrip_until_it_reopens(
    project, deployer, breaker, create_oracle, create_feed, governance, guardian, lp, trader, anyone
):
    """In COOLDOWN and AUCTION the pool still shows its crash price: no evidence for rule A."""
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project, deployer, breaker, None, oracle, governance=governance, liquidity_collateral=1_000
    )
    pool, collateral, mid = deployed.pool, deployed.collateral, deployed.market_id
    pool.transfer(lp, pool.balanceOf(deployer), sender=deployer)
    pool.remove_liquidity(pool.balanceOf(lp) * 85 // 100, 0, 0, sender=lp)
    collateral.mint(trader, 100 * COL, sender=deployer)
    collateral.approve(pool, 100 * COL, sender=trader)
    pool.swap(True, 3 * COL, 0, DEADLINE, sender=trader)
    hold()
    breaker.arm_trip(mid, sender=anyone)
    breaker.trip(mid, sender=anyone)

    breaker.force_resume(mid, sender=governance)  # depth is still thin, the pool still 4% off
    for state, wait in ((COOLDOWN, breaker.P_COOLDOWN_S()), (AUCTION, breaker.P_AUCTION_S())):
        assert breaker.state(mid) == state
        with ape.reverts("CircuitBreaker: venue closed until the market reopens"):
            breaker.arm_trip(mid, sender=anyone)
        advance(breaker.params(mid, wait))
        breaker.sync(mid, sender=anyone)

    assert breaker.state(mid) == NORMAL and pool.breaker_state() == NORMAL
    breaker.arm_trip(mid, sender=anyone)  # reopened: its price is evidence again
    breaker.trip(mid, sender=anyone)
    assert breaker.state(mid) == HALTED


def test_pool_as_venue__guardian_can_still_trip_a_closed_pool(
    project, deployer, breaker, create_oracle, create_feed, governance, guardian
):
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project, deployer, breaker, None, oracle, governance=governance, liquidity_collateral=1_000
    )
    mid = deployed.market_id
    breaker.guardian_trip(mid, sender=guardian)
    breaker.force_resume(mid, sender=governance)
    assert breaker.state(mid) == COOLDOWN
    breaker.guardian_trip(mid, sender=guardian)
    assert breaker.state(mid) == HALTED
