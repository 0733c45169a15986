"""Governance (the snekmate owner): bounded parameters, threshold ramps, price source, kill switch."""

import ape
import pytest

from tests.conftest import WAD
from tests.unit.lending.conftest import COLL, DEFAULTS, KEY, PARAM_KEYS, PRICE_ORACLE, PRICE_VENUE, USDC

DAY = 86_400
BOUNDS = {
    "max_ltv_bps": (1_000, 9_000),
    "close_factor_bps": (1_000, 10_000),
    "liquidation_bonus_bps": (0, 2_000),
    "base_rate": (0, 10**17),
    "slope_1": (0, 10**18),
    "slope_2": (0, 10 * 10**18),
    "kink_bps": (5_000, 9_500),
    "halt_rate_multiplier_bps": (10_000, 50_000),
    "max_grace_s": (300, 14_400),
    "ramp_min_s": (21_600, 2_592_000),
}


def test_param_bounds__match_the_documented_bounds(create_market):
    market = create_market()
    assert market.NUM_PARAMS() == len(PARAM_KEYS)
    for name, bounds in BOUNDS.items():
        assert market.param_bounds(KEY[name]) == bounds, name
        assert market.params(KEY[name]) == DEFAULTS[name], name


def test_set_param__within_bounds(market, governance):
    receipt = market.set_param(KEY["halt_rate_multiplier_bps"], 20_000, sender=governance)
    assert receipt.events == [
        market.ParameterSet(key=KEY["halt_rate_multiplier_bps"], old=10_000, new=20_000, actor=governance)
    ]
    assert market.params(KEY["halt_rate_multiplier_bps"]) == 20_000


@pytest.mark.parametrize(
    "name", ["halt_rate_multiplier_bps", "max_grace_s", "close_factor_bps", "ramp_min_s"]
)
@pytest.mark.threat
def test_set_param__out_of_bounds_reverts(name, market, governance):
    low, high = BOUNDS[name]
    with ape.reverts(f"LendingMarket: parameter {KEY[name]} out of bounds"):
        market.set_param(KEY[name], high + 1, sender=governance)
    with ape.reverts(f"LendingMarket: parameter {KEY[name]} out of bounds"):
        market.set_param(KEY[name], low - 1, sender=governance)


def test_set_param__not_owner_reverts(market, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        market.set_param(KEY["max_grace_s"], 600, sender=anyone)


def test_set_param__unknown_key_reverts(market, governance):
    with ape.reverts("LendingMarket: unknown parameter"):
        market.set_param(len(PARAM_KEYS), 1, sender=governance)


def test_set_param__max_ltv_too_close_to_threshold_reverts(market, governance):
    market.set_param(KEY["max_ltv_bps"], 7_500, sender=governance)  # LT 80% - 5% gap
    with ape.reverts("LendingMarket: max ltv too close to the threshold"):
        market.set_param(KEY["max_ltv_bps"], 7_501, sender=governance)


def test_set_param__bonus_too_high_for_threshold_reverts(market, governance):
    market.set_param(KEY["liquidation_bonus_bps"], 2_000, sender=governance)  # 0.8 * 1.2 < 1
    market.set_liquidation_threshold(8_300, DAY, sender=governance)
    with ape.reverts("LendingMarket: bonus too high for the threshold"):
        market.set_liquidation_threshold(8_400, DAY, sender=governance)  # 0.84 * 1.2 > 1


def test_set_liquidation_threshold__ramps_linearly(market, governance, travel, chain):
    market.set_param(KEY["max_ltv_bps"], 6_000, sender=governance)
    start = market.set_liquidation_threshold(7_000, DAY, sender=governance).timestamp
    travel(DAY // 2)
    elapsed = chain.blocks.head.timestamp - start
    assert market.liquidation_threshold() == 8_000 - 1_000 * elapsed // DAY
    ramp = market.threshold_ramp()
    assert (ramp.from_bps, ramp.to_bps, ramp.start, ramp.end) == (8_000, 7_000, start, start + DAY)
    travel(DAY)
    assert market.liquidation_threshold() == 7_000


def test_set_liquidation_threshold__raise_ramps_too(market, governance, travel, chain):
    start = market.set_liquidation_threshold(8_500, 2 * DAY, sender=governance).timestamp
    travel(DAY)
    assert market.liquidation_threshold() == 8_000 + 500 * (chain.blocks.head.timestamp - start) // (2 * DAY)


def test_set_liquidation_threshold__mid_ramp_starts_from_the_reached_value(market, governance, travel):
    market.set_param(KEY["max_ltv_bps"], 6_000, sender=governance)
    market.set_liquidation_threshold(7_000, DAY, sender=governance)
    travel(DAY // 2)
    reached = market.liquidation_threshold()
    receipt = market.set_liquidation_threshold(8_000, DAY, sender=governance)
    [event] = receipt.decode_logs(market.ThresholdRampStarted)
    assert event.old_bps in (reached, reached - 1)  # one more second may have passed
    assert market.threshold_ramp().from_bps == event.old_bps


def test_set_liquidation_threshold__shorter_than_ramp_min_reverts(market, governance):
    with ape.reverts("LendingMarket: ramp duration out of bounds"):
        market.set_liquidation_threshold(7_500, DAY - 1, sender=governance)


def test_set_liquidation_threshold__out_of_bounds_reverts(market, governance):
    with ape.reverts("LendingMarket: threshold out of bounds"):
        market.set_liquidation_threshold(9_501, DAY, sender=governance)
    with ape.reverts("LendingMarket: threshold out of bounds"):
        market.set_liquidation_threshold(4_999, DAY, sender=governance)


def test_set_liquidation_threshold__below_max_ltv_gap_reverts(market, governance):
    with ape.reverts("LendingMarket: max ltv too close to the threshold"):
        market.set_liquidation_threshold(7_400, DAY, sender=governance)


def test_set_liquidation_threshold__not_owner_reverts(market, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        market.set_liquidation_threshold(7_500, DAY, sender=anyone)


def test_preview_threshold__out_of_bounds_reverts(market, borrower):
    with ape.reverts("LendingMarket: threshold out of bounds"):
        market.preview_threshold(10_000, [borrower])


def test_preview_threshold__raise_finds_nothing(market, borrower, supply, open_position):
    supply(market)
    open_position(market, borrower)
    assert market.preview_threshold(9_000, [borrower]) == []


def test_set_price_source__venue(market, governance, oracle, venue):
    receipt = market.set_price_source(PRICE_VENUE, venue, sender=governance)
    assert receipt.events == [
        market.PriceSourceSet(
            actor=governance, old_kind=PRICE_ORACLE, new_kind=PRICE_VENUE, old_source=oracle, new_source=venue
        )
    ]
    assert market.price_kind() == PRICE_VENUE
    assert market.price_source() == venue


def test_set_price_source__unknown_kind_reverts(market, governance, venue):
    with ape.reverts("LendingMarket: unknown price source kind"):
        market.set_price_source(3, venue, sender=governance)


def test_set_price_source__not_a_contract_reverts(market, governance, anyone):
    with ape.reverts("LendingMarket: price source is not a contract"):
        market.set_price_source(PRICE_ORACLE, anyone, sender=governance)


def test_set_price_source__not_owner_reverts(market, anyone, venue):
    with ape.reverts("ownable: caller is not the owner"):
        market.set_price_source(PRICE_VENUE, venue, sender=anyone)


@pytest.mark.funds_exit
def test_pause__winds_down_without_locking_funds(
    market, governance, lender, borrower, liquidator, supply, open_position, fund, set_price, collateral_token
):
    supply(market)
    open_position(market, borrower, collateral=10_000 * COLL, debt=7_000 * USDC)
    receipt = market.pause(sender=governance)
    assert receipt.events == [market.Paused(account=governance)]
    set_price(0.85)
    fund(market, liquidator, usdc=3_500 * USDC)
    market.liquidate(borrower, 2**256 - 1, sender=liquidator)
    market.repay(borrower, 1_000 * USDC, sender=borrower)
    market.withdraw(10_000 * USDC, sender=lender)
    fund(market, borrower, coll=1 * COLL)
    market.deposit_collateral(borrower, 1 * COLL, sender=borrower)
    market.withdraw_collateral(1 * COLL, sender=borrower)
    assert collateral_token.balanceOf(borrower) == 1 * COLL
    with ape.reverts("pausable: contract is paused"):
        market.borrow(1 * USDC, sender=borrower)


def test_pause__not_owner_reverts(market, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        market.pause(sender=anyone)


def test_deploy__inconsistent_parameters_reverts(create_market):
    with ape.reverts("LendingMarket: max ltv too close to the threshold"):
        create_market(threshold_bps=7_000)


def test_deploy__records_configuration(
    market, governance, breaker, market_id, borrow_token, collateral_token
):
    assert market.owner() == governance
    assert market.breaker() == breaker
    assert market.breaker_market_id() == market_id
    assert market.borrow_token() == borrow_token
    assert market.collateral_token() == collateral_token
    assert market.liquidation_threshold() == 8_000
    assert market.borrow_index() == WAD
