"""Liquidation in NORMAL: permissionless, below health one, close factor, bonus in collateral."""

import re

import ape
import pytest

from tests.conftest import WAD
from tests.unit.lending.conftest import COLL, MAX, USDC

ORACLE_INVALID = re.compile(r"ReferenceOracle: below quorum, 0 of 1 feeds valid.*")


def health(collateral, debt, price, threshold_bps=8_000):
    return collateral * price // COLL * threshold_bps * WAD // (debt * 10**12 * 10_000)


def seize_for(repaid, price, bonus_bps=500):
    return repaid * 10**12 * (10_000 + bonus_bps) // 10_000 * COLL // price


def test_liquidate__unhealthy_position(
    market, borrower, liquidator, supply, open_position, fund, set_price, borrow_token, collateral_token
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.85)
    price = 85 * WAD // 100
    fund(market, liquidator, usdc=3_500 * USDC)
    assert market.is_liquidatable(borrower)
    seized = seize_for(3_500 * USDC, price)

    receipt = market.liquidate(borrower, MAX, sender=liquidator)

    assert receipt.return_value == (3_500 * USDC, seized)
    assert receipt.events == [
        borrow_token.Transfer(sender=liquidator, receiver=market, value=3_500 * USDC),
        collateral_token.Transfer(sender=market, receiver=liquidator, value=seized),
        market.Liquidated(
            liquidator=liquidator,
            borrower=borrower,
            repaid=3_500 * USDC,
            seized=seized,
            price=price,
            threshold_bps=8_000,
            health_before=health(10_000 * COLL, 7_000 * USDC, price),
            debt=3_500 * USDC,
            collateral=10_000 * COLL - seized,
        ),
    ]
    assert borrow_token.balanceOf(liquidator) == 0
    assert collateral_token.balanceOf(liquidator) == seized
    assert market.cash() == 100_000 * USDC - 7_000 * USDC + 3_500 * USDC
    assert market.debt_of(borrower) == 3_500 * USDC
    assert market.collateral_of(borrower) == 10_000 * COLL - seized
    # The bonus is 5%: collateral worth 3,675 for 3,500.
    assert 3_675 * 10**18 - WAD < seized * price // COLL <= 3_675 * 10**18


def test_liquidate__healthy_reverts(market, borrower, liquidator, supply, open_position, fund, set_price):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.88)  # HF = 10,000 * 0.88 * 0.8 / 7,000 = 1.006
    fund(market, liquidator, usdc=3_500 * USDC)
    assert not market.is_liquidatable(borrower)
    with ape.reverts("LendingMarket: position is healthy"):
        market.liquidate(borrower, MAX, sender=liquidator)


def test_liquidate__less_than_the_close_factor(
    market, borrower, liquidator, supply, open_position, fund, set_price
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.85)
    fund(market, liquidator, usdc=1_000 * USDC)
    receipt = market.liquidate(borrower, 1_000 * USDC, sender=liquidator)
    assert receipt.return_value == (1_000 * USDC, seize_for(1_000 * USDC, 85 * WAD // 100))
    assert market.debt_of(borrower) == 6_000 * USDC


def test_liquidate__underwater_takes_all_collateral(
    market, borrower, liquidator, supply, open_position, fund, set_price, collateral_token, borrow_token
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.30)  # collateral worth 3,000 against 7,000 of debt
    fund(market, liquidator, usdc=3_500 * USDC)
    receipt = market.liquidate(borrower, MAX, sender=liquidator)
    # All collateral, for its value less the bonus, rounded up: 3,000 / 1.05.
    repaid = -(-3_000 * 10**18 * 10_000 // (10_500 * 10**12))
    assert receipt.return_value == (repaid, 10_000 * COLL)
    assert collateral_token.balanceOf(liquidator) == 10_000 * COLL
    assert borrow_token.balanceOf(liquidator) == 3_500 * USDC - repaid
    assert market.collateral_of(borrower) == 0
    # No collateral is left behind the rest of the debt: it is written off at once.
    assert receipt.events.filter(market.BadDebtRealized) == [
        market.BadDebtRealized(borrower=borrower, liquidator=liquidator, amount=7_000 * USDC - repaid)
    ]
    assert market.debt_of(borrower) == 0
    assert market.total_borrows() == 0
    assert market.total_assets() == 100_000 * USDC - 7_000 * USDC + repaid


def test_liquidate__partial_leaves_no_bad_debt(
    market, borrower, liquidator, supply, open_position, fund, set_price
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.85)
    fund(market, liquidator, usdc=3_500 * USDC)
    receipt = market.liquidate(borrower, MAX, sender=liquidator)
    assert receipt.events.filter(market.BadDebtRealized) == []
    assert market.total_assets() == 100_000 * USDC


def test_liquidate__without_debt_reverts(market, borrower, liquidator, open_position):
    open_position(market, borrower, debt=0)
    with ape.reverts("LendingMarket: no debt"):
        market.liquidate(borrower, MAX, sender=liquidator)


def test_liquidate__zero_repay_reverts(market, borrower, liquidator, supply, open_position, set_price):
    supply(market)
    open_position(market, borrower)
    set_price(0.85)
    with ape.reverts("LendingMarket: zero amount"):
        market.liquidate(borrower, 0, sender=liquidator)


@pytest.mark.threat
def test_liquidate__oracle_invalid_reverts(
    market, borrower, liquidator, supply, open_position, fund, feed, deployer
):
    supply(market)
    open_position(market, borrower)
    fund(market, liquidator, usdc=3_500 * USDC)
    feed.set_answer(0, sender=deployer)
    with ape.reverts(ORACLE_INVALID):
        market.liquidate(borrower, MAX, sender=liquidator)


def test_liquidate__unguarded_market_same_code(
    unguarded_market, borrower, liquidator, supply, open_position, fund, set_price, trip
):
    market = unguarded_market
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    set_price(0.85)
    trip()  # the breaker halts its market, but this market is not attached
    fund(market, liquidator, usdc=3_500 * USDC)
    repaid, _ = market.liquidate(borrower, MAX, sender=liquidator).return_value
    assert repaid == 3_500 * USDC
