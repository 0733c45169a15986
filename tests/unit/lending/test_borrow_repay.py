"""Borrow (NORMAL only, up to max LTV) and repay (always, by anyone)."""

import re

import ape
import pytest

from tests.conftest import WAD
from tests.constants import AUCTION, COOLDOWN, HALTED
from tests.unit.lending.conftest import COLL, MAX, USDC

ORACLE_INVALID = re.compile(r"ReferenceOracle: below quorum, 0 of 1 feeds valid.*")


def test_borrow__within_max_ltv(market, borrower, supply, open_position, borrow_token):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=0)
    receipt = market.borrow(7_000 * USDC, sender=borrower)
    assert receipt.events == [
        borrow_token.Transfer(sender=market, receiver=borrower, value=7_000 * USDC),
        market.Borrowed(
            borrower=borrower, amount=7_000 * USDC, debt=7_000 * USDC, collateral=10_000 * COLL, price=WAD
        ),
    ]
    assert borrow_token.balanceOf(borrower) == 7_000 * USDC
    assert market.debt_of(borrower) == 7_000 * USDC
    assert market.cash() == 93_000 * USDC
    assert market.total_borrows() == 7_000 * USDC


def test_borrow__above_max_ltv_reverts(market, borrower, supply, open_position):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=0)
    with ape.reverts("LendingMarket: borrow above max ltv"):
        market.borrow(7_000 * USDC + 1, sender=borrower)


def test_borrow__more_than_idle_reverts(market, borrower, supply, open_position):
    supply(market, 1_000 * USDC)
    open_position(market, borrower, collateral=10_000 * COLL, debt=0)
    with ape.reverts("LendingMarket: not enough idle liquidity"):
        market.borrow(1_001 * USDC, sender=borrower)


def test_borrow__oracle_invalid_reverts(market, borrower, supply, open_position, feed, deployer):
    supply(market)
    open_position(market, borrower, debt=0)
    feed.set_answer(0, sender=deployer)
    with ape.reverts(ORACLE_INVALID):
        market.borrow(1 * USDC, sender=borrower)


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION])
def test_borrow__breaker_not_normal_reverts(
    state, market, borrower, supply, open_position, trip, breaker, market_id, governance, travel
):
    supply(market)
    open_position(market, borrower, debt=0)
    trip()
    if state != HALTED:
        breaker.force_resume(market_id, sender=governance)
    if state == AUCTION:
        travel(breaker.params(market_id, breaker.P_COOLDOWN_S()))
        breaker.sync(market_id, sender=governance)
    assert market.breaker_state() == state
    with ape.reverts("LendingMarket: borrowing blocked by the breaker"):
        market.borrow(1 * USDC, sender=borrower)


def test_borrow__paused_reverts(market, borrower, supply, open_position, governance):
    supply(market)
    open_position(market, borrower, debt=0)
    market.pause(sender=governance)
    with ape.reverts("pausable: contract is paused"):
        market.borrow(1 * USDC, sender=borrower)


def test_repay__partial(market, borrower, supply, open_position, borrow_token):
    supply(market)
    open_position(market, borrower, debt=7_000 * USDC)
    receipt = market.repay(borrower, 2_000 * USDC, sender=borrower)
    assert receipt.events == [
        borrow_token.Transfer(sender=borrower, receiver=market, value=2_000 * USDC),
        market.Repaid(payer=borrower, borrower=borrower, amount=2_000 * USDC, debt=5_000 * USDC),
    ]
    assert borrow_token.balanceOf(borrower) == 5_000 * USDC
    assert market.debt_of(borrower) == 5_000 * USDC
    assert market.cash() == 95_000 * USDC


def test_repay__all_with_max_value(
    create_market, borrower, supply, open_position, travel, fund, borrow_token
):
    market = create_market()
    supply(market)
    open_position(market, borrower, debt=7_000 * USDC)
    travel(30 * 86_400)
    fund(market, borrower, usdc=100 * USDC)
    before = borrow_token.balanceOf(borrower)
    receipt = market.repay(borrower, MAX, sender=borrower)
    [event] = receipt.decode_logs(market.Repaid)
    assert event.amount > 7_000 * USDC
    assert event.debt == 0
    assert before - borrow_token.balanceOf(borrower) == event.amount
    assert market.debt_of(borrower) == 0
    assert market.positions(borrower).debt_shares == 0


def test_repay__by_anyone_for_borrower(market, borrower, anyone, supply, open_position, fund, borrow_token):
    supply(market)
    open_position(market, borrower, debt=7_000 * USDC)
    fund(market, anyone, usdc=1_000 * USDC)
    market.repay(borrower, 1_000 * USDC, sender=anyone)
    assert market.debt_of(borrower) == 6_000 * USDC
    assert borrow_token.balanceOf(anyone) == 0
    assert borrow_token.balanceOf(borrower) == 7_000 * USDC


@pytest.mark.threat
@pytest.mark.funds_exit
def test_repay__halted_paused_and_oracle_invalid(
    market, borrower, supply, open_position, trip, feed, deployer, governance
):
    supply(market)
    open_position(market, borrower, debt=7_000 * USDC)
    trip()
    market.pause(sender=governance)
    feed.set_answer(0, sender=deployer)
    market.repay(borrower, 7_000 * USDC, sender=borrower)
    assert market.debt_of(borrower) == 0


def test_repay__without_debt_reverts(market, borrower):
    with ape.reverts("LendingMarket: no debt"):
        market.repay(borrower, 1 * USDC, sender=borrower)


def test_repay__zero_reverts(market, borrower, supply, open_position):
    supply(market)
    open_position(market, borrower)
    with ape.reverts("LendingMarket: zero amount"):
        market.repay(borrower, 0, sender=borrower)
