"""Lenders: supply for shares, withdraw or redeem what is idle, in every breaker state."""

import ape
import pytest

from tests.constants import HALTED
from tests.unit.lending.conftest import USDC


def test_supply__mints_shares(market, lender, fund, borrow_token):
    fund(market, lender, usdc=1_000 * USDC)
    receipt = market.supply(1_000 * USDC, sender=lender)
    assert receipt.events == [
        borrow_token.Transfer(sender=lender, receiver=market, value=1_000 * USDC),
        market.Supplied(
            lender=lender,
            assets=1_000 * USDC,
            shares=1_000 * USDC,
            total_assets=1_000 * USDC,
            total_shares=1_000 * USDC,
        ),
    ]
    assert market.shares_of(lender) == 1_000 * USDC
    assert market.cash() == 1_000 * USDC
    assert borrow_token.balanceOf(lender) == 0
    assert borrow_token.balanceOf(market) == 1_000 * USDC


def test_supply__zero_reverts(market, lender):
    with ape.reverts("LendingMarket: zero amount"):
        market.supply(0, sender=lender)


def test_supply__paused_reverts(market, lender, fund, governance):
    fund(market, lender, usdc=1_000 * USDC)
    market.pause(sender=governance)
    with ape.reverts("pausable: contract is paused"):
        market.supply(1_000 * USDC, sender=lender)


def test_supply__donation_does_not_move_share_price(market, lender, supply, borrow_token, anyone):
    supply(market, 1_000 * USDC)
    borrow_token.mint_for_testing(market, 5_000 * USDC, sender=anyone)
    assert market.total_assets() == 1_000 * USDC
    assert market.assets_of(lender) == 1_000 * USDC


def test_withdraw__idle_liquidity(market, lender, supply, borrow_token):
    supply(market, 1_000 * USDC)
    receipt = market.withdraw(400 * USDC, sender=lender)
    assert receipt.events == [
        borrow_token.Transfer(sender=market, receiver=lender, value=400 * USDC),
        market.Withdrawn(
            lender=lender,
            assets=400 * USDC,
            shares=400 * USDC,
            total_assets=600 * USDC,
            total_shares=600 * USDC,
        ),
    ]
    assert borrow_token.balanceOf(lender) == 400 * USDC
    assert market.shares_of(lender) == 600 * USDC


def test_withdraw__more_than_idle_reverts(market, lender, borrower, supply, open_position):
    supply(market, 10_000 * USDC)
    open_position(market, borrower, debt=7_000 * USDC)
    with ape.reverts("LendingMarket: not enough idle liquidity"):
        market.withdraw(3_001 * USDC, sender=lender)


def test_withdraw__more_than_owned_reverts(market, lender, supply, anyone):
    supply(market, 1_000 * USDC)
    supply(market, 1_000 * USDC, who=anyone)
    with ape.reverts("LendingMarket: not enough shares"):
        market.withdraw(1_001 * USDC, sender=lender)


@pytest.mark.funds_exit
def test_withdraw__idle_while_halted(market, lender, borrower, supply, open_position, trip, borrow_token):
    supply(market, 10_000 * USDC)
    open_position(market, borrower, debt=7_000 * USDC)
    trip()
    assert market.breaker_state() == HALTED
    market.withdraw(3_000 * USDC, sender=lender)
    assert borrow_token.balanceOf(lender) == 3_000 * USDC


def test_redeem__all_shares_after_interest(
    create_market, lender, borrower, supply, open_position, travel, borrow_token
):
    market = create_market()
    supply(market, 10_000 * USDC)
    open_position(market, borrower, debt=7_000 * USDC)
    travel(365 * 86_400)
    debt = market.debt_of(borrower)
    borrow_token.mint_for_testing(borrower, debt, sender=borrower)
    market.repay(borrower, 2**256 - 1, sender=borrower)
    shares = market.shares_of(lender)
    receipt = market.redeem(shares, sender=lender)
    [event] = receipt.decode_logs(market.Withdrawn)
    assert event.shares == shares
    assert event.assets > 10_000 * USDC  # the interest
    assert borrow_token.balanceOf(lender) == event.assets
    assert market.shares_of(lender) == 0


def test_redeem__zero_reverts(market, lender):
    with ape.reverts("LendingMarket: zero amount"):
        market.redeem(0, sender=lender)
