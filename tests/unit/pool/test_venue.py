"""IVenue views: spot price, depth within a band (exact for x * y = k), execution price."""

from decimal import Decimal, getcontext

import pytest

from tests.unit.pool.conftest import BPS, COL, DEADLINE, FEE_BPS, PRICE, SEED_COL, USD, WAD, amount_out

if getcontext().prec < 60:  # noqa: PLR1730 (vyper, once imported, pins a higher precision and refuses any change)
    getcontext().prec = 60
SCALE = 10**12  # debt (6 decimals) to 18 decimals


def test_spot_price__debt_per_collateral_18_decimals(pool):
    x, y = pool.reserves()
    assert pool.spot_price() == y * SCALE * WAD // x == PRICE * WAD


def test_spot_price__empty_pool_is_zero(create_pool):
    assert create_pool().spot_price() == 0


@pytest.mark.parametrize("band_bps", [10, 100, 500, 2_500])
def test_depth__matches_closed_form(pool, band_bps):
    _, y = pool.reserves()
    expected = Decimal(y * SCALE) * (1 - (1 - Decimal(band_bps) / BPS).sqrt())
    assert abs(Decimal(pool.depth(band_bps)) - expected) <= y * SCALE / Decimal(10**17)


def test_depth__selling_it_moves_price_by_band(create_pool, fund, lp, trader, collateral, debt):
    """Exact for x * y = k: with no fee, paying out `depth(b)` moves the price down by b."""
    pool = create_pool(fee_bps=0)
    fund(lp, pool, (collateral, SEED_COL * COL), (debt, SEED_COL * PRICE * USD))
    fund(trader, pool, (collateral, 100 * COL), (debt, 0))
    pool.add_liquidity(SEED_COL * COL, SEED_COL * PRICE * USD, 0, DEADLINE, sender=lp)
    pool.refresh_band(sender=trader)
    x, _ = pool.reserves()
    spot = pool.spot_price()
    depth = pool.depth(100)

    # Collateral that makes the pool pay out `depth`: dx = x * (1 / sqrt(1 - b) - 1).
    dx = int(Decimal(x) * (1 / (1 - Decimal(100) / BPS).sqrt() - 1))
    out = pool.swap(True, dx, 0, DEADLINE, sender=trader).return_value

    assert abs(out * SCALE - depth) <= SCALE  # one raw debt unit
    drop_bps = Decimal(spot - pool.spot_price()) * BPS / spot
    assert abs(drop_bps - 100) < Decimal("1e-6")


def test_depth__whole_band_is_all_debt(pool):
    assert pool.depth(BPS) == pool.reserves()[1] * SCALE


def test_depth__empty_pool_is_zero(create_pool):
    assert create_pool().depth(100) == 0


@pytest.mark.parametrize("notional_usd", [1, 10_000, 1_000_000])
def test_exec_price__fee_and_impact_of_a_sell(pool, notional_usd):
    x, y = pool.reserves()
    spot = pool.spot_price()
    dx = notional_usd * WAD * WAD // spot
    expected = amount_out(dx, x, y) * SCALE * WAD // dx
    assert pool.exec_price(notional_usd * WAD) == expected
    assert expected < spot * (BPS - FEE_BPS) // BPS


def test_exec_price__equals_the_swap(pool, trader):
    notional = 10_000 * WAD
    dx = notional * WAD // pool.spot_price()
    quoted = pool.exec_price(notional)
    out = pool.swap(True, dx, 0, DEADLINE, sender=trader).return_value
    assert quoted == out * SCALE * WAD // dx


def test_exec_price__dust_is_spot(create_pool, create_token, fund, lp, debt):
    """A notional below one raw collateral unit (6 decimals here) reads as the spot price."""
    collateral = create_token("C6", 6)
    pool = create_pool(collateral=collateral)
    fund(lp, pool, (collateral, 10**9), (debt, 2 * 10**12))
    pool.add_liquidity(10**9, 2 * 10**12, 0, DEADLINE, sender=lp)
    assert pool.exec_price(10**8) == pool.spot_price()


def test_exec_price__unfillable_is_zero(pool, create_pool):
    assert pool.exec_price(2**200) == 0  # above any reserve the pool can hold
    assert create_pool().exec_price(10**24) == 0  # empty pool
