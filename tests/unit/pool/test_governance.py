"""Owner (governance) setters: bounds, access, events with old and new values."""

import ape
import pytest

from tests.unit.pool.conftest import BAND_BPS, COL, DEADLINE, FEE_BPS, MAX_AGE_S, REFRESH_S, amount_out


def test_owner__is_governance(pool, governance):
    assert pool.owner() == governance


def test_set_fee_bps__applies_to_next_swap(pool, governance, trader):
    receipt = pool.set_fee_bps(100, sender=governance)
    assert pool.fee_bps() == 100
    assert receipt.decode_logs(pool.FeeSet) == [pool.FeeSet(actor=governance, old=FEE_BPS, new=100)]
    x, y = pool.reserves()
    assert pool.swap(True, COL, 0, DEADLINE, sender=trader).return_value == amount_out(COL, x, y, 100)


def test_set_fee_bps__keeps_reserves_and_state(pool, governance):
    before = (pool.reserves(), pool.breaker_state())
    pool.set_fee_bps(0, sender=governance)
    assert (pool.reserves(), pool.breaker_state()) == before


def test_set_fee_bps__not_owner_reverts(pool, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        pool.set_fee_bps(10, sender=anyone)


@pytest.mark.threat
def test_set_fee_bps__above_bound_reverts(pool, governance):
    with ape.reverts("GuardedPool: fee out of bounds"):
        pool.set_fee_bps(pool.MAX_FEE_BPS() + 1, sender=governance)


def test_set_band_bps__applies(pool, governance):
    receipt = pool.set_band_bps(1_000, sender=governance)
    assert pool.band().width_bps == 1_000
    assert receipt.decode_logs(pool.BandWidthSet) == [
        pool.BandWidthSet(actor=governance, old=BAND_BPS, new=1_000)
    ]
    assert pool.band().centre > 0  # the centre is kept


def test_set_band_bps__not_owner_reverts(pool, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        pool.set_band_bps(1_000, sender=anyone)


@pytest.mark.parametrize("width", [9, 5_001])
def test_set_band_bps__out_of_bounds_reverts(pool, governance, width):
    with ape.reverts("GuardedPool: band width out of bounds"):
        pool.set_band_bps(width, sender=governance)


def test_set_band_timing__applies(pool, governance):
    receipt = pool.set_band_timing(12, 3_600, sender=governance)
    band = pool.band()
    assert (band.refresh_s, band.max_age_s) == (12, 3_600)
    assert receipt.decode_logs(pool.BandTimingSet) == [
        pool.BandTimingSet(
            actor=governance,
            old_refresh_s=REFRESH_S,
            new_refresh_s=12,
            old_max_age_s=MAX_AGE_S,
            new_max_age_s=3_600,
        )
    ]


def test_set_band_timing__not_owner_reverts(pool, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        pool.set_band_timing(60, 900, sender=anyone)


@pytest.mark.parametrize(
    "refresh_s,max_age_s,reason",
    [
        (11, 900, "GuardedPool: band refresh out of bounds"),
        (3_601, 86_400, "GuardedPool: band refresh out of bounds"),
        (12, 59, "GuardedPool: band max age out of bounds"),
        (60, 86_401, "GuardedPool: band max age out of bounds"),
        (600, 300, "GuardedPool: band max age below refresh"),
    ],
)
def test_set_band_timing__out_of_bounds_reverts(pool, governance, refresh_s, max_age_s, reason):
    with ape.reverts(reason):
        pool.set_band_timing(refresh_s, max_age_s, sender=governance)


def test_transfer_ownership__new_owner_sets(pool, governance, anyone):
    pool.transfer_ownership(anyone, sender=governance)
    pool.set_fee_bps(5, sender=anyone)
    with ape.reverts("ownable: caller is not the owner"):
        pool.set_fee_bps(5, sender=governance)


def test_transfer_ownership__not_owner_reverts(pool, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        pool.transfer_ownership(anyone, sender=anyone)
