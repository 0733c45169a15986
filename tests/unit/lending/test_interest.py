"""Kinked interest-rate model accruing per second, and the halt multiplier."""

import ape
import pytest

from tests.conftest import WAD
from tests.unit.lending.conftest import DEFAULTS, KEY, MAX, USDC

YEAR = 365 * 86_400


def annual_rate(utilization: int, p=DEFAULTS) -> int:
    kink = p["kink_bps"] * WAD // 10_000
    if utilization <= kink:
        return p["base_rate"] + p["slope_1"] * utilization // kink
    return p["base_rate"] + p["slope_1"] + p["slope_2"] * (utilization - kink) // (WAD - kink)


@pytest.mark.parametrize("borrowed, utilization", [(50_000, WAD // 2), (90_000, 9 * WAD // 10)])
def test_borrow_rate__follows_the_kinked_curve(
    borrowed, utilization, create_market, borrower, supply, open_position
):
    market = create_market()
    supply(market, 100_000 * USDC)
    open_position(market, borrower, collateral=200_000 * 10**18, debt=borrowed * USDC)
    assert market.utilization() == utilization
    assert market.borrow_rate() == annual_rate(utilization) // YEAR


def test_borrow_rate__zero_without_borrows(create_market, supply):
    market = create_market()
    supply(market, 100_000 * USDC)
    assert market.utilization() == 0
    assert market.borrow_rate() == 0


def test_accrue__debt_grows_per_second(create_market, borrower, supply, open_position, travel, chain):
    market = create_market()
    supply(market, 100_000 * USDC)
    open_position(market, borrower, collateral=200_000 * 10**18, debt=50_000 * USDC)
    rate = market.borrow_rate()
    start = market.last_accrual()
    travel(86_400)
    elapsed = chain.blocks.head.timestamp - start
    index = WAD + WAD * rate * elapsed // WAD
    shares = market.positions(borrower).debt_shares
    assert market.debt_of(borrower) == -(-shares * index // WAD)
    assert market.total_borrows() == shares * index // WAD
    assert market.total_assets() == 50_000 * USDC + shares * index // WAD


def test_accrue__lenders_earn_what_borrowers_pay(
    create_market, lender, borrower, supply, open_position, travel, fund
):
    market = create_market()
    supply(market, 100_000 * USDC)
    open_position(market, borrower, collateral=200_000 * 10**18, debt=50_000 * USDC)
    travel(YEAR)
    fund(market, borrower, usdc=10_000 * USDC)
    paid = market.repay(borrower, MAX, sender=borrower).return_value
    interest = paid - 50_000 * USDC
    assert interest > 0
    assert market.interest_accrued() == pytest.approx(interest, abs=1)  # debt rounds up, borrows down
    assert market.assets_of(lender) == pytest.approx(100_000 * USDC + interest, abs=2)


def test_accrue__halt_multiplier_charges_more_while_halted(
    create_market, governance, borrower, other_borrower, supply, open_position, trip, travel, fund
):
    tripled = create_market(halt_rate_multiplier_bps=30_000)
    plain = create_market()
    for market, who in ((tripled, borrower), (plain, other_borrower)):
        supply(market, 100_000 * USDC)
        open_position(market, who, collateral=200_000 * 10**18, debt=50_000 * USDC)
    trip()
    # Utilisation has crept above 50% by a few seconds of interest.
    assert tripled.borrow_rate() == pytest.approx(annual_rate(WAD // 2) * 3 // YEAR, rel=1e-6)
    assert plain.borrow_rate() == pytest.approx(annual_rate(WAD // 2) // YEAR, rel=1e-6)
    travel(3_600)
    for market, who in ((tripled, borrower), (plain, other_borrower)):
        fund(market, who, usdc=1_000 * USDC)
        market.repay(who, MAX, sender=who)
    assert tripled.interest_accrued() == pytest.approx(3 * plain.interest_accrued(), rel=1e-3)


def test_accrue__halt_multiplier_ignored_while_normal(create_market, borrower, supply, open_position):
    market = create_market(halt_rate_multiplier_bps=30_000)
    supply(market, 100_000 * USDC)
    open_position(market, borrower, collateral=200_000 * 10**18, debt=50_000 * USDC)
    assert market.borrow_rate() == annual_rate(WAD // 2) // YEAR


def test_set_param__rate_change_accrues_at_the_old_rate_first(
    create_market, governance, borrower, supply, open_position, travel, chain
):
    market = create_market()
    supply(market, 100_000 * USDC)
    open_position(market, borrower, collateral=200_000 * 10**18, debt=50_000 * USDC)
    old_rate = market.borrow_rate()
    start = market.last_accrual()
    travel(86_400)
    receipt = market.set_param(KEY["slope_1"], 10**18, sender=governance)
    elapsed = receipt.timestamp - start
    assert market.borrow_index() == WAD + WAD * old_rate * elapsed // WAD
    assert market.last_accrual() == receipt.timestamp
    assert market.borrow_rate() > old_rate


def test_set_param__rate_above_bound_reverts(market, governance):
    with ape.reverts(f"LendingMarket: parameter {KEY['slope_2']} out of bounds"):
        market.set_param(KEY["slope_2"], 10 * 10**18 + 1, sender=governance)
