"""The abrupt rule change (seed 002): a venue cut position limits at once, market makers were force-
closed, and the forced sales fed the crash. Here: a liquidation-threshold cut applied at once would
make every position between the old and the new threshold liquidatable in one block; the ramp makes
none, and borrowers who act during the ramp are never liquidated."""

import importlib.util
from pathlib import Path

import ape
import pytest

from tests.conftest import WAD
from tests.unit.lending.conftest import COLL, KEY, MAX, USDC

N = 4
DAY = 86_400


@pytest.fixture
def borrowers(accounts, market, supply, open_position, set_price, governance):
    """N positions at 10,000 collateral and 6,600-6,900 debt; the price then falls to 0.90:
    healthy at LT 80% (HF 1.04-1.09), liquidatable at LT 70% (HF 0.91-0.95)."""
    supply(market, 1_000_000 * USDC)
    owners = []
    for i in range(N):
        owner = accounts.generate_test_account()
        owner.balance = 10**20
        open_position(market, owner, collateral=10_000 * COLL, debt=(6_600 + 100 * i) * USDC)
        owners.append(owner)
    set_price(0.90)
    market.set_param(KEY["max_ltv_bps"], 6_000, sender=governance)  # room below the new threshold
    return owners


def test_preview_threshold__abrupt_cut_would_liquidate_all(market, borrowers, borrower):
    found = market.preview_threshold(7_000, [*borrowers, borrower])
    assert [p.borrower for p in found] == [b.address for b in borrowers]
    for i, preview in enumerate(found):
        debt = (6_600 + 100 * i) * 10**18
        assert preview.health_now == 9_000 * WAD * 8_000 * WAD // (debt * 10_000)
        assert preview.health_new == 9_000 * WAD * 7_000 * WAD // (debt * 10_000)
        assert preview.health_new < WAD <= preview.health_now


@pytest.mark.threat
def test_set_liquidation_threshold__ramp_liquidates_none_in_the_block(
    market, borrowers, governance, liquidator, fund
):
    receipt = market.set_liquidation_threshold(7_000, DAY, sender=governance)
    assert receipt.events == [
        market.ThresholdRampStarted(
            actor=governance,
            old_bps=8_000,
            new_bps=7_000,
            start=receipt.timestamp,
            end=receipt.timestamp + DAY,
        )
    ]
    assert market.liquidation_threshold() == 8_000
    assert not any(market.is_liquidatable(b) for b in borrowers)
    fund(market, liquidator, usdc=10_000 * USDC)
    for b in borrowers:
        with ape.reverts("LendingMarket: position is healthy"):
            market.liquidate(b, MAX, sender=liquidator)


def test_set_liquidation_threshold__borrowers_who_cure_during_the_ramp_survive(
    market, borrowers, governance, liquidator, fund, travel, set_price
):
    market.set_liquidation_threshold(7_000, DAY, sender=governance)
    travel(DAY // 4)  # LT 77.5%: a warning, not a cliff
    for b in borrowers[:2]:
        fund(market, b, coll=2_000 * COLL)
        market.deposit_collateral(b, 2_000 * COLL, sender=b)
    travel(DAY)
    set_price(0.90)  # keep the feed fresh
    assert market.liquidation_threshold() == 7_000
    assert [market.is_liquidatable(b) for b in borrowers] == [False, False, True, True]
    fund(market, liquidator, usdc=10_000 * USDC)
    with ape.reverts("LendingMarket: position is healthy"):
        market.liquidate(borrowers[0], MAX, sender=liquidator)
    market.liquidate(borrowers[3], MAX, sender=liquidator)


@pytest.mark.threat
def test_set_liquidation_threshold__at_once_reverts(market, governance):
    with ape.reverts("LendingMarket: ramp duration out of bounds"):
        market.set_liquidation_threshold(7_500, 0, sender=governance)


def test_preview_script__finds_them_from_the_events(market, borrowers, borrower, open_position):
    open_position(market, borrower, collateral=20_000 * COLL, debt=1_000 * USDC)  # healthy either way
    path = Path(__file__).resolve().parents[3] / "scripts" / "preview_threshold.py"
    spec = importlib.util.spec_from_file_location("preview_threshold", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    everyone = script.borrowers_of(market)
    assert everyone == [*(b.address for b in borrowers), borrower.address]
    assert [p.borrower for p in script.preview(market, 7_000, everyone)] == [b.address for b in borrowers]
