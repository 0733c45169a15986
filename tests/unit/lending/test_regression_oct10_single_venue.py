"""10 October 2025: USDe printed 0.65 on one venue while every other source held ~0.99. A market
that prices collateral from that venue liquidates healthy positions at a 35% discount; the same
market behind the breaker freezes; the reference-oracle market never sees the dislocation."""

import ape

from tests.conftest import DEPTH, WAD
from tests.constants import HALTED
from tests.helpers import hold
from tests.unit.lending.conftest import COLL, MAX, PRICE_ORACLE, PRICE_VENUE, USDC


def dislocate(set_price, venue, deployer):
    """The reference feeds hold 0.99, the venue prints 0.65 with its depth gone."""
    set_price(0.99, venue_price=0.65)
    venue.set_depth(DEPTH // 10, sender=deployer)


def test_liquidate__venue_priced_unguarded_takes_healthy_collateral(
    create_market,
    borrower,
    liquidator,
    supply,
    open_position,
    fund,
    set_price,
    venue,
    deployer,
    collateral_token,
):
    market = create_market(guarded=False, price_kind=PRICE_VENUE, slope_1=0, slope_2=0)
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    dislocate(set_price, venue, deployer)
    fund(market, liquidator, usdc=3_500 * USDC)

    repaid, seized = market.liquidate(borrower, MAX, sender=liquidator).return_value

    # At the real price (0.99) the position was healthy: 10,000 * 0.99 * 0.8 / 7,000 = 1.13.
    assert 10_000 * 99 * 8_000 // (7_000 * 100) > 10_000
    assert repaid == 3_500 * USDC
    assert collateral_token.balanceOf(liquidator) == seized
    # 3,500 paid for collateral worth 5,597 at the real price: a wrongful liquidation.
    assert seized * 99 // 100 // COLL == 5_597


def test_liquidate__venue_priced_guarded_frozen_by_rule_a_reverts(
    create_market,
    breaker,
    market_id,
    anyone,
    borrower,
    liquidator,
    supply,
    open_position,
    fund,
    set_price,
    venue,
    deployer,
):
    market = create_market(price_kind=PRICE_VENUE, slope_1=0, slope_2=0)
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    dislocate(set_price, venue, deployer)
    hold()  # the dislocation holds over rule A's hold
    breaker.arm_trip(market_id, sender=anyone)
    breaker.trip(market_id, sender=anyone)  # rule A, confirmed in a later block
    assert market.breaker_state() == HALTED
    assert market.frozen_price() == 99 * WAD // 100
    assert market.health_factor(borrower) > WAD  # valued at the frozen reference price
    fund(market, liquidator, usdc=3_500 * USDC)
    with ape.reverts("LendingMarket: liquidations frozen by the breaker"):
        market.liquidate(borrower, MAX, sender=liquidator)
    market.repay(borrower, 1_000 * USDC, sender=borrower)  # the borrower can still act
    assert market.debt_of(borrower) == 6_000 * USDC


def test_liquidate__oracle_priced_healthy_reverts(
    create_market, borrower, liquidator, supply, open_position, fund, set_price, venue, deployer
):
    market = create_market(guarded=False, price_kind=PRICE_ORACLE, slope_1=0, slope_2=0)
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    dislocate(set_price, venue, deployer)
    fund(market, liquidator, usdc=3_500 * USDC)
    with ape.reverts("LendingMarket: position is healthy"):
        market.liquidate(borrower, MAX, sender=liquidator)
