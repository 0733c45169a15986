"""The band bounds in sqrtPriceX96, in both token orders, against an exact integer model."""

from __future__ import annotations

from math import isqrt

import pytest

from tests.integrations.v4.conftest import BAND_BPS, FEE_PIPS, MAX_AGE_S, REFRESH_S, TICK_SPACING

WAD, BPS = 10**18, 10_000
COL_SCALE, DEBT_SCALE = 1, 10**12  # collateral 18 decimals, debt 6


def sqrt_x96(price: int, collateral_is_0: bool, up: bool) -> int:
    """sqrt(raw currency1 per raw currency0) in Q64.96 at an 18-decimal collateral price."""
    num, den = (
        (price * COL_SCALE, DEBT_SCALE * WAD) if collateral_is_0 else (DEBT_SCALE * WAD, price * COL_SCALE)
    )
    ratio = -(-(num << 192) // den) if up else (num << 192) // den
    root = isqrt(ratio)
    return root + 1 if up and root * root < ratio else root


@pytest.mark.parametrize("collateral_first", [True, False])
def test_band_bounds__match_the_exact_model_in_both_token_orders(
    collateral_first, project, breaker, market_id, oracle, collateral, debt, deployer, governance, anyone
):
    col, usd = (collateral, debt) if collateral_first else (debt, collateral)
    hook = project.BreakerHookV4.deploy(
        breaker,
        breaker,
        market_id,
        oracle,
        col,
        usd,
        18,
        6,
        FEE_PIPS,
        TICK_SPACING,
        BAND_BPS,
        REFRESH_S,
        MAX_AGE_S,
        governance,
        sender=deployer,
    )
    collateral_is_0 = int(col.address, 16) < int(usd.address, 16)
    assert hook.COLLATERAL_IS_CURRENCY0() == collateral_is_0
    hook.refresh_band(sender=anyone)
    band = hook.band()
    centre = oracle.price()
    low_price = -(-centre * (BPS - BAND_BPS) // BPS)
    high_price = centre * (BPS + BAND_BPS) // BPS
    if collateral_is_0:
        lower, upper = sqrt_x96(low_price, True, True), sqrt_x96(high_price, True, False)
    else:
        lower, upper = sqrt_x96(high_price, False, True), sqrt_x96(low_price, False, False)
    assert band.sqrt_price_lower_x96 == lower
    # the packed upper bound is never above the exact one, and off by at most 2**-32 of it
    assert upper - upper // 2**32 - 1 <= band.sqrt_price_upper_x96 <= upper
    assert lower < hook.sqrt_price_x96_of(centre) < band.sqrt_price_upper_x96
    assert hook.sqrt_price_x96_of(centre) == sqrt_x96(centre, collateral_is_0, False)
