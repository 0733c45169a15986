"""The price band (Limit Up-Limit Down): edges, direction, refresh, invalid reference."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.helpers import advance
from tests.unit.pool.conftest import (
    BAND_BPS,
    BPS,
    COL,
    DEADLINE,
    MAX_AGE_S,
    PRICE,
    REFRESH_S,
    USD,
    WAD,
    amount_out,
)

CENTRE = PRICE * WAD
SCALE = 10**12  # debt (6 decimals) to 18 decimals


def _sell_ok(dx: int, x: int, y: int, centre: int = CENTRE) -> bool:
    post = (y - amount_out(dx, x, y)) * SCALE * WAD // (x + dx)
    return post * BPS >= centre * (BPS - BAND_BPS)


def _buy_ok(dy: int, x: int, y: int, centre: int = CENTRE) -> bool:
    numerator, denominator = (y + dy) * SCALE * WAD, x - amount_out(dy, y, x)
    return -(-numerator // denominator) * BPS <= centre * (BPS + BAND_BPS)


def _largest(ok, high: int) -> int:
    """Largest amount in [0, high] for which `ok` holds (ok is monotone)."""
    low = 0
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low


def _set_reference(feed, price, sender):
    feed.set_answer(int(price * 10**8), sender=sender)


def test_swap__sell_just_inside_band(pool, trader):
    x, y = pool.reserves()
    edge = _largest(lambda dx: _sell_ok(dx, x, y), 100 * COL)
    pool.swap(True, edge, 0, DEADLINE, sender=trader)
    low, _ = pool.band_limits()
    assert low <= pool.spot_price() < low + low // 10**11


@pytest.mark.threat
def test_swap__sell_just_outside_band_reverts(pool, trader):
    x, y = pool.reserves()
    edge = _largest(lambda dx: _sell_ok(dx, x, y), 100 * COL)
    with ape.reverts("GuardedPool: price below band"):
        pool.swap(True, edge + 1, 0, DEADLINE, sender=trader)


def test_swap__buy_just_inside_band(pool, trader):
    x, y = pool.reserves()
    edge = _largest(lambda dy: _buy_ok(dy, x, y), 200_000 * USD)
    pool.swap(False, edge, 0, DEADLINE, sender=trader)
    _, high = pool.band_limits()
    assert high - high // 10**11 < pool.spot_price() <= high


@pytest.mark.threat
def test_swap__buy_just_outside_band_reverts(pool, trader):
    x, y = pool.reserves()
    edge = _largest(lambda dy: _buy_ok(dy, x, y), 200_000 * USD)
    with ape.reverts("GuardedPool: price above band"):
        pool.swap(False, edge + 1, 0, DEADLINE, sender=trader)


def test_band_limits__around_centre(pool, unguarded_pool):
    assert pool.band_limits() == (CENTRE * (BPS - BAND_BPS) // BPS, CENTRE * (BPS + BAND_BPS) // BPS)
    assert unguarded_pool.band_limits() == (0, 2**256 - 1)


def test_swap__toward_centre_allowed_outside_band(pool, pool_feed, deployer, trader, anyone):
    """The reference jumps 15% up: the pool is below its band; buys may lift it, sells may not."""
    _set_reference(pool_feed, PRICE * 1.15, deployer)
    pool.refresh_band(sender=anyone)
    low, _ = pool.band_limits()
    assert pool.spot_price() < low
    with ape.reverts("GuardedPool: price below band"):
        pool.swap(True, COL // 10, 0, DEADLINE, sender=trader)
    pool.swap(False, 10_000 * USD, 0, DEADLINE, sender=trader)  # still below the band afterwards
    assert pool.spot_price() < low


def test_swap__unguarded_has_no_band(unguarded_pool, trader):
    unguarded_pool.swap(True, 300 * COL, 0, DEADLINE, sender=trader)
    assert unguarded_pool.spot_price() < CENTRE * 6 // 10


def test_swap__rereads_reference_after_refresh_interval(pool, pool_feed, deployer, trader):
    _set_reference(pool_feed, PRICE * 0.98, deployer)
    receipt = pool.swap(True, COL, 0, DEADLINE, sender=trader)
    assert receipt.decode_logs(pool.BandRefreshed) == []  # centre still fresh
    advance(REFRESH_S + 1)
    receipt = pool.swap(True, COL, 0, DEADLINE, sender=trader)
    assert receipt.decode_logs(pool.BandRefreshed) == [
        pool.BandRefreshed(actor=trader, old_centre=CENTRE, new_centre=CENTRE * 98 // 100, valid_feeds=1)
    ]
    assert pool.band().centre == CENTRE * 98 // 100


def test_swap__invalid_reference_old_centre_serves_until_max_age(pool, pool_feed, deployer, trader):
    pool_feed.set_broken(True, sender=deployer)
    advance(REFRESH_S + 1)
    receipt = pool.swap(True, COL, 0, DEADLINE, sender=trader)
    assert receipt.decode_logs(pool.BandRefreshed) == []
    assert pool.band().centre == CENTRE


@pytest.mark.threat
def test_swap__invalid_reference_and_stale_centre_reverts(pool, pool_feed, deployer, trader, lp):
    pool_feed.set_broken(True, sender=deployer)
    advance(MAX_AGE_S + 1)
    with ape.reverts("GuardedPool: reference price invalid and band centre stale"):
        pool.swap(True, COL, 0, DEADLINE, sender=trader)
    with ape.reverts("GuardedPool: reference price invalid and band centre stale"):
        pool.swap(False, PRICE * USD, 0, DEADLINE, sender=trader)
    pool.add_liquidity(COL, PRICE * USD, 0, DEADLINE, sender=lp)  # liquidity still moves
    pool.remove_liquidity(10**9, 0, 0, sender=lp)


def test_swap__reference_valid_again_resumes(pool, pool_feed, deployer, trader):
    pool_feed.set_broken(True, sender=deployer)
    advance(MAX_AGE_S + 1)
    pool_feed.set_broken(False, sender=deployer)
    _set_reference(pool_feed, PRICE, deployer)  # a fresh round
    receipt = pool.swap(True, COL, 0, DEADLINE, sender=trader)
    assert len(receipt.decode_logs(pool.BandRefreshed)) == 1


def test_refresh_band__recentres(pool, pool_feed, deployer, anyone, chain):
    _set_reference(pool_feed, PRICE * 1.01, deployer)
    receipt = pool.refresh_band(sender=anyone)
    assert receipt.return_value == CENTRE * 101 // 100
    assert pool.band().centre == CENTRE * 101 // 100
    assert pool.band().updated_at == receipt.timestamp
    assert receipt.decode_logs(pool.BandRefreshed) == [
        pool.BandRefreshed(actor=anyone, old_centre=CENTRE, new_centre=CENTRE * 101 // 100, valid_feeds=1)
    ]


def test_refresh_band__invalid_reference_reverts(pool, pool_feed, deployer, anyone):
    pool_feed.set_answer(-1, sender=deployer)
    with ape.reverts("GuardedPool: reference price invalid"):
        pool.refresh_band(sender=anyone)
    assert pool.band().centre == CENTRE


def test_refresh_band__unguarded_pool_reverts(unguarded_pool, anyone):
    assert unguarded_pool.ORACLE() == ZERO_ADDRESS
    with ape.reverts("GuardedPool: pool has no price band"):
        unguarded_pool.refresh_band(sender=anyone)
