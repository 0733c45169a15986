"""Borrowers' collateral: adding always works; withdrawing against debt needs NORMAL and max LTV."""

import re

import ape
import pytest

from tests.unit.lending.conftest import COLL, USDC

ORACLE_INVALID = re.compile(r"ReferenceOracle: below quorum, 0 of 1 feeds valid.*")


def test_deposit_collateral__for_borrower(market, borrower, anyone, fund, collateral_token):
    fund(market, anyone, coll=500 * COLL)
    receipt = market.deposit_collateral(borrower, 500 * COLL, sender=anyone)
    assert receipt.events == [
        collateral_token.Transfer(sender=anyone, receiver=market, value=500 * COLL),
        market.CollateralDeposited(payer=anyone, borrower=borrower, amount=500 * COLL, collateral=500 * COLL),
    ]
    assert market.collateral_of(borrower) == 500 * COLL
    assert market.collateral_of(anyone) == 0
    assert collateral_token.balanceOf(anyone) == 0
    assert collateral_token.balanceOf(market) == 500 * COLL


def test_deposit_collateral__zero_reverts(market, borrower):
    with ape.reverts("LendingMarket: zero amount"):
        market.deposit_collateral(borrower, 0, sender=borrower)


@pytest.mark.funds_exit
def test_deposit_collateral__halted_paused_and_oracle_invalid(
    market, borrower, supply, open_position, fund, trip, feed, deployer, governance
):
    supply(market)
    open_position(market, borrower)
    trip()
    market.pause(sender=governance)
    feed.set_answer(0, sender=deployer)
    fund(market, borrower, coll=1_000 * COLL)
    market.deposit_collateral(borrower, 1_000 * COLL, sender=borrower)
    assert market.collateral_of(borrower) == 11_000 * COLL


def test_withdraw_collateral__within_max_ltv(market, borrower, supply, open_position, collateral_token):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=6_000 * USDC)
    # 6,000 debt at 70% max LTV needs 8,571.43 collateral: 1,428 may leave.
    receipt = market.withdraw_collateral(1_428 * COLL, sender=borrower)
    assert receipt.events == [
        collateral_token.Transfer(sender=market, receiver=borrower, value=1_428 * COLL),
        market.CollateralWithdrawn(
            borrower=borrower, amount=1_428 * COLL, collateral=8_572 * COLL, debt=6_000 * USDC
        ),
    ]
    assert collateral_token.balanceOf(borrower) == 1_428 * COLL


def test_withdraw_collateral__above_max_ltv_reverts(market, borrower, supply, open_position):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=6_000 * USDC)
    with ape.reverts("LendingMarket: withdrawal above max ltv"):
        market.withdraw_collateral(1_429 * COLL, sender=borrower)


def test_withdraw_collateral__more_than_posted_reverts(market, borrower, open_position):
    open_position(market, borrower, collateral=100 * COLL, debt=0)
    with ape.reverts("LendingMarket: not enough collateral"):
        market.withdraw_collateral(101 * COLL, sender=borrower)


@pytest.mark.funds_exit
def test_withdraw_collateral__without_debt_while_halted_and_oracle_invalid(
    market, borrower, open_position, trip, feed, deployer, collateral_token
):
    open_position(market, borrower, collateral=100 * COLL, debt=0)
    trip()
    feed.set_answer(0, sender=deployer)
    market.withdraw_collateral(100 * COLL, sender=borrower)
    assert collateral_token.balanceOf(borrower) == 100 * COLL


def test_withdraw_collateral__with_debt_while_halted_reverts(market, borrower, supply, open_position, trip):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=1_000 * USDC)
    trip()
    with ape.reverts("LendingMarket: collateral withdrawal blocked by the breaker"):
        market.withdraw_collateral(1 * COLL, sender=borrower)


def test_withdraw_collateral__with_debt_oracle_invalid_reverts(
    market, borrower, supply, open_position, feed, deployer
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=1_000 * USDC)
    feed.set_answer(0, sender=deployer)
    with ape.reverts(ORACLE_INVALID):
        market.withdraw_collateral(1 * COLL, sender=borrower)
