"""The breaker protecting a reserve of a real Aave v3 pool (npm bytecode): freeze on a trip, frozen price
through BreakerFeed, repay during the halt, liquidations after the reopening.

The fork suite imports these tests and runs them at Aave's mainnet addresses
(tests/fork/test_aave_on_fork.py): they use only the fixtures `protected`, `fund`, `set_price` and the actors.
"""

from __future__ import annotations

import ape
import pytest
from ape import chain

from devchain.aave import borrow, supply
from keeper import params as P
from tests.integrations.aave_setup import (
    HEALTH_FACTOR_NOT_BELOW_THRESHOLD,
    LTV_VALIDATION_FAILED,
    RESERVE_FROZEN,
    USDE_BONUS,
    USDE_LTV,
    USDE_THRESHOLD,
    WAD,
)

NORMAL, HALTED, COOLDOWN = 1, 2, 4
USDE = 10**18
USDC = 10**6
CRASH_PRICE = 0.80
# Collateral and debt of the two positions: 68 % and 40 % of the collateral's value.
COLLATERAL = 10_000 * USDE
RISKY_DEBT = 6_800 * USDC
SAFE_DEBT = 4_000 * USDC


@pytest.fixture
def positions(protected, fund, lp, borrower, cautious_borrower):
    """An LP's 1M USDC; a borrower at 68 % of the collateral's value, a cautious one at 40 %."""
    pool = protected.core.pool
    fund(protected.debt_asset, lp, 1_000_000 * USDC)
    supply(pool, protected.debt_asset, lp, 1_000_000 * USDC)
    for who, debt in ((borrower, RISKY_DEBT), (cautious_borrower, SAFE_DEBT)):
        fund(protected.collateral, who, COLLATERAL)
        supply(pool, protected.collateral, who, COLLATERAL)
        borrow(pool, protected.debt_asset, who, debt)
    return protected


def _trip(protected, guardian):
    return protected.breaker.guardian_trip(protected.market_id, sender=guardian)


def _reopen(protected, governance):
    """Governance ends the halt; cool-down and auction elapse; anyone stores NORMAL (notifying the
    steward)."""
    breaker, market_id = protected.breaker, protected.market_id
    breaker.force_resume(market_id, sender=governance)
    reopening_s = sum(breaker.params(market_id, P.BY_NAME[name].key) for name in ("cooldown_s", "auction_s"))
    chain.pending_timestamp += reopening_s + 1
    return breaker.sync(market_id, sender=governance)


def _approve_liquidator(protected, fund, liquidator, amount):
    fund(protected.debt_asset, liquidator, amount)
    protected.debt_asset.approve(protected.core.pool, amount, sender=liquidator)


def test_trip__freezes_reserve_and_zeroes_ltv(positions, guardian):
    assert positions.config() == (USDE_LTV, USDE_THRESHOLD, USDE_BONUS, False)

    receipt = _trip(positions, guardian)

    assert positions.config() == (0, USDE_THRESHOLD, USDE_BONUS, True)
    events = positions.steward.ReserveRestricted.from_receipt(receipt)
    assert [(e.asset, e.actor, e.state, e.froze, e.old_ltv) for e in events] == [
        (positions.collateral.address, positions.breaker.address, HALTED, True, USDE_LTV)
    ]
    assert positions.steward.StewardCallFailed.from_receipt(receipt) == []
    assert (positions.steward.engaged(), positions.steward.froze(), positions.steward.saved_ltv()) == (
        True,
        True,
        USDE_LTV,
    )


def test_crash_during_halt__healthy_position_not_liquidatable(
    positions, guardian, set_price, fund, liquidator, borrower
):
    _trip(positions, guardian)
    set_price(positions.underlying_feed, CRASH_PRICE)
    _approve_liquidator(positions, fund, liquidator, RISKY_DEBT)

    assert positions.core.oracle.getAssetPrice(positions.collateral) == 10**8  # frozen at the trip
    assert positions.health_factor(borrower) > WAD
    with ape.reverts(HEALTH_FACTOR_NOT_BELOW_THRESHOLD):
        positions.core.pool.liquidationCall(
            positions.collateral, positions.debt_asset, borrower, RISKY_DEBT // 2, False, sender=liquidator
        )


def test_crash_without_breaker__same_position_liquidatable(positions, set_price, fund, liquidator, borrower):
    """The control: the same crash with the market NORMAL reaches Aave and the position is liquidated."""
    set_price(positions.underlying_feed, CRASH_PRICE)
    _approve_liquidator(positions, fund, liquidator, RISKY_DEBT)

    assert positions.core.oracle.getAssetPrice(positions.collateral) == int(CRASH_PRICE * 10**8)
    assert positions.health_factor(borrower) < WAD
    positions.core.pool.liquidationCall(
        positions.collateral, positions.debt_asset, borrower, RISKY_DEBT // 2, False, sender=liquidator
    )


def test_borrow_during_halt__against_frozen_price_reverts(positions, guardian, set_price, cautious_borrower):
    _trip(positions, guardian)
    set_price(positions.underlying_feed, CRASH_PRICE)

    with ape.reverts(LTV_VALIDATION_FAILED):
        borrow(positions.core.pool, positions.debt_asset, cautious_borrower, 1_000 * USDC)


def test_supply_during_halt__reverts(positions, guardian, fund, anyone):
    _trip(positions, guardian)
    fund(positions.collateral, anyone, USDE)
    positions.collateral.approve(positions.core.pool, USDE, sender=anyone)

    with ape.reverts(RESERVE_FROZEN):
        positions.core.pool.supply(positions.collateral, USDE, anyone, 0, sender=anyone)


def test_repay_during_halt__works(positions, guardian, set_price, fund, borrower):
    _trip(positions, guardian)
    set_price(positions.underlying_feed, CRASH_PRICE)
    pool, usdc = positions.core.pool, positions.debt_asset
    debt_token = positions.core.token("v", usdc)
    repay = 1_000 * USDC
    usdc.approve(pool, repay, sender=borrower)
    wallet_before, debt_before = usdc.balanceOf(borrower), debt_token.balanceOf(borrower)

    pool.repay(usdc, repay, 2, borrower, sender=borrower)

    assert usdc.balanceOf(borrower) == wallet_before - repay
    assert debt_before - debt_token.balanceOf(borrower) == repay


def test_reopening__truly_unhealthy_liquidated_healthy_kept(
    positions, guardian, governance, set_price, fund, liquidator, borrower, cautious_borrower
):
    _trip(positions, guardian)
    set_price(positions.underlying_feed, CRASH_PRICE)

    receipt = _reopen(positions, governance)
    set_price(positions.underlying_feed, CRASH_PRICE)  # the feed's heartbeat after the time travel

    assert positions.breaker.state(positions.market_id) == NORMAL
    events = positions.steward.ReserveReleased.from_receipt(receipt)
    assert [(e.actor, e.unfroze, e.restored_ltv) for e in events] == [
        (positions.breaker.address, True, USDE_LTV)
    ]
    assert positions.config() == (USDE_LTV, USDE_THRESHOLD, USDE_BONUS, False)
    assert positions.core.oracle.getAssetPrice(positions.collateral) == int(CRASH_PRICE * 10**8)
    assert positions.health_factor(borrower) < WAD < positions.health_factor(cautious_borrower)

    _approve_liquidator(positions, fund, liquidator, RISKY_DEBT)
    pool, usde, usdc = positions.core.pool, positions.collateral, positions.debt_asset
    usdc_before, usde_before = usdc.balanceOf(liquidator), usde.balanceOf(liquidator)
    pool.liquidationCall(usde, usdc, borrower, RISKY_DEBT // 2, False, sender=liquidator)
    repaid = usdc_before - usdc.balanceOf(liquidator)
    seized = usde.balanceOf(liquidator) - usde_before
    assert repaid == RISKY_DEBT // 2
    # Seized at the live price with the 8.5 % bonus: repaid / 0.80 * 1.085 (USDC 6 -> USDe 18 decimals).
    assert seized == pytest.approx(repaid * 10**12 / CRASH_PRICE * USDE_BONUS / 10_000, rel=1e-6)
    with ape.reverts(HEALTH_FACTOR_NOT_BELOW_THRESHOLD):
        pool.liquidationCall(usde, usdc, cautious_borrower, SAFE_DEBT // 2, False, sender=liquidator)


def test_reopening__borrowing_and_supply_open_again(positions, guardian, governance, fund, cautious_borrower):
    _trip(positions, guardian)
    _reopen(positions, governance)
    pool = positions.core.pool
    fund(positions.collateral, cautious_borrower, USDE)

    supply(pool, positions.collateral, cautious_borrower, USDE)
    borrow(pool, positions.debt_asset, cautious_borrower, 1_000 * USDC)

    assert (
        positions.core.token("v", positions.debt_asset).balanceOf(cautious_borrower)
        >= SAFE_DEBT + 1_000 * USDC
    )


def test_withdraw_during_halt__allowed_down_to_health_one_at_the_frozen_price(
    positions, guardian, set_price, cautious_borrower
):
    """What the steward cannot close (docs/integrations.md): a freeze does not stop withdrawals, which Aave
    checks at the frozen price. At the crash price the same withdrawal would leave the position
    liquidatable."""
    _trip(positions, guardian)
    set_price(positions.underlying_feed, CRASH_PRICE)
    pool, usde = positions.core.pool, positions.collateral
    # Down to a health factor of about 1 at 1.00: collateral of debt / threshold, plus a margin for interest.
    keep = SAFE_DEBT * 10**12 * 10_000 // USDE_THRESHOLD * 1_001 // 1_000
    withdraw = COLLATERAL - keep
    wallet_before = usde.balanceOf(cautious_borrower)

    pool.withdraw(usde, withdraw, cautious_borrower, sender=cautious_borrower)

    assert usde.balanceOf(cautious_borrower) - wallet_before == withdraw
    assert WAD < positions.health_factor(cautious_borrower) < WAD * 101 // 100
    # At the crash price the collateral left is worth less than the debt's liquidation threshold allows.
    assert keep * CRASH_PRICE * USDE_THRESHOLD / 10_000 < SAFE_DEBT * 10**12
