"""The breaker pushes its states; the market freezes liquidations, values at the frozen price, and
keeps liquidations closed for a grace period after the return to NORMAL."""

import ape
import pytest

from tests.conftest import WAD
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.unit.lending.conftest import COLL, KEY, MAX, USDC


def test_on_breaker_state__trip_pushes_halted_and_frozen_price(market, breaker, market_id, trip, set_price):
    set_price(0.97)
    receipt = trip()
    assert receipt.events.filter(market.BreakerStateReceived) == [
        market.BreakerStateReceived(
            breaker=breaker,
            market_id=market_id,
            old_state=NORMAL,
            new_state=HALTED,
            frozen_price=97 * WAD // 100,
            grace_until=0,
        )
    ]
    assert market.breaker_state() == HALTED
    assert market.frozen_price() == 97 * WAD // 100
    guard = market.guard()
    assert guard.state == HALTED
    assert guard.since == receipt.timestamp


@pytest.mark.threat
def test_on_breaker_state__from_anyone_reverts(market, market_id, anyone):
    with ape.reverts("LendingMarket: caller is not the breaker"):
        market.on_breaker_state(market_id, HALTED, WAD, sender=anyone)


def test_on_breaker_state__unguarded_accepts_nobody(unguarded_market, market_id, anyone):
    with ape.reverts("LendingMarket: caller is not the breaker"):
        unguarded_market.on_breaker_state(market_id, HALTED, WAD, sender=anyone)
    assert unguarded_market.breaker_state() == NORMAL


def test_on_breaker_state__other_market_reverts(
    create_market, breaker, governance, venue, oracle, params_array, market_id
):
    market = create_market()
    breaker.register_market(venue, oracle, params_array(), sender=governance)
    with ape.reverts("LendingMarket: unknown breaker market"):
        breaker.add_consumer(market_id + 1, market, sender=governance)


def test_on_breaker_state__unknown_state_reverts(market, breaker, market_id, accounts):
    impersonated = accounts[breaker.address]
    impersonated.balance = 10**18
    with ape.reverts("LendingMarket: unknown breaker state"):
        market.on_breaker_state(market_id, 3, WAD, sender=impersonated)


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION])
def test_liquidate__breaker_not_normal_reverts(
    state,
    market,
    borrower,
    liquidator,
    supply,
    open_position,
    fund,
    set_price,
    trip,
    breaker,
    market_id,
    governance,
    travel,
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    trip()
    set_price(0.50)  # deep under water at the live price
    if state != HALTED:
        breaker.force_resume(market_id, sender=governance)
    if state == AUCTION:
        travel(breaker.params(market_id, breaker.P_COOLDOWN_S()))
        breaker.sync(market_id, sender=governance)
    assert market.breaker_state() == state
    fund(market, liquidator, usdc=3_500 * USDC)
    assert not market.is_liquidatable(borrower)
    with ape.reverts("LendingMarket: liquidations frozen by the breaker"):
        market.liquidate(borrower, MAX, sender=liquidator)


def test_health_factor__frozen_price_while_halted(market, borrower, supply, open_position, set_price, trip):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    trip()  # frozen at 1.00
    set_price(0.50)
    assert market.collateral_price() == WAD
    assert market.health_factor(borrower) == 10_000 * WAD * 8_000 // (7_000 * 10_000)


def test_health_factor__live_price_while_normal(market, borrower, supply, open_position, set_price):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.50)
    assert market.collateral_price() == WAD // 2
    assert market.health_factor(borrower) == 5_000 * WAD * 8_000 // (7_000 * 10_000)


@pytest.mark.threat
def test_liquidate__closed_during_grace_after_resume_reverts(
    market, borrower, liquidator, supply, open_position, fund, set_price, trip, resume_to_normal
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    halted_at = trip().timestamp
    receipt = resume_to_normal(halted_for=600)
    [event] = receipt.events.filter(market.BreakerStateReceived)
    halt = receipt.timestamp - halted_at
    assert event.old_state == COOLDOWN and event.new_state == NORMAL  # one sync: cool-down, auction, normal
    assert event.grace_until == receipt.timestamp + halt  # a short halt: grace = its length
    set_price(0.85)
    fund(market, liquidator, usdc=3_500 * USDC)
    assert not market.is_liquidatable(borrower)
    with ape.reverts("LendingMarket: liquidation grace period"):
        market.liquidate(borrower, MAX, sender=liquidator)


def test_liquidate__open_after_grace(
    market,
    borrower,
    liquidator,
    supply,
    open_position,
    fund,
    set_price,
    trip,
    resume_to_normal,
    chain,
    travel,
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    trip()
    resume_to_normal(halted_for=600)
    travel(market.guard().grace_until - chain.blocks.head.timestamp)
    set_price(0.85)
    fund(market, liquidator, usdc=3_500 * USDC)
    assert market.is_liquidatable(borrower)
    repaid, _ = market.liquidate(borrower, MAX, sender=liquidator).return_value
    assert repaid == 3_500 * USDC


def test_grace__capped_at_max_grace(market, trip, resume_to_normal):
    trip()
    receipt = resume_to_normal(halted_for=3 * 3_600)
    assert market.guard().grace_until == receipt.timestamp + market.params(KEY["max_grace_s"])


@pytest.mark.threat
def test_grace__borrower_cures_before_it_ends(
    market,
    borrower,
    liquidator,
    supply,
    open_position,
    fund,
    set_price,
    trip,
    resume_to_normal,
    chain,
    travel,
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    trip()
    resume_to_normal(halted_for=600)
    set_price(0.85)
    market.repay(borrower, 2_000 * USDC, sender=borrower)  # cures: HF = 8,500 * 0.8 / 5,000
    travel(market.guard().grace_until - chain.blocks.head.timestamp)
    set_price(0.85)
    assert market.health_factor(borrower) > WAD
    fund(market, liquidator, usdc=3_500 * USDC)
    with ape.reverts("LendingMarket: position is healthy"):
        market.liquidate(borrower, MAX, sender=liquidator)


@pytest.mark.threat
def test_set_breaker__detach_while_halted_keeps_grace(market, breaker, market_id, governance, trip, anyone):
    trip()
    breaker.remove_consumer(market_id, market, sender=governance)
    receipt = market.set_breaker(anyone, 7, sender=governance)
    assert receipt.events == [
        market.BreakerSet(
            actor=governance,
            old_breaker=breaker,
            new_breaker=anyone,
            old_market_id=0,
            new_market_id=7,
        )
    ]
    guard = market.guard()
    assert guard.state == NORMAL
    assert guard.grace_until == receipt.timestamp + (receipt.timestamp - guard.since)
    assert market.breaker() == anyone
    assert market.breaker_market_id() == 7


def test_set_breaker__not_owner_reverts(market, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        market.set_breaker(anyone, 0, sender=anyone)
