"""poke: price observations for V_P and daily depth samples for the R_L baseline."""

from decimal import Decimal

import ape
import pytest

from tests.constants import COOLDOWN
from tests.helpers import DEPTH, advance, move_venue


def test_poke__records_observation_after_spacing(breaker, market_id, anyone):
    advance(12)
    assert breaker.poke.call(market_id, sender=anyone) is True


def test_poke__within_spacing_records_nothing(breaker, market_id, anyone):
    advance(12)
    breaker.poke(market_id, sender=anyone)
    assert breaker.poke.call(market_id, sender=anyone) is False


def test_poke__daily_depth_sample_updates_median_baseline(breaker, market_id, venue, anyone, feed):
    for ratio in (0.5, 0.25):
        advance(86_400)
        move_venue(venue, anyone, depth_ratio=ratio)
        receipt = breaker.poke(market_id, sender=anyone)
        [event] = receipt.decode_logs(breaker.DepthSampled)
        assert event.depth == int(Decimal(str(ratio)) * DEPTH)
    # samples 8M, 4M, 2M: the median is 4M, not the latest.
    assert event.samples == 3
    assert breaker.depth_baseline(market_id) == DEPTH // 2


@pytest.mark.threat
def test_poke__baseline_resists_one_manipulated_sample(breaker, market_id, venue, anyone):
    """Inflating the depth at one daily sample moves the median of 30 by at most one rank."""
    for _ in range(4):
        advance(86_400)
        breaker.poke(market_id, sender=anyone)
    advance(86_400)
    move_venue(venue, anyone, depth_ratio=100.0)
    breaker.poke(market_id, sender=anyone)
    assert breaker.depth_baseline(market_id) == DEPTH


def test_poke__ring_of_thirty_daily_samples(breaker, market_id, venue, anyone):
    for _ in range(31):
        advance(86_400)
        breaker.poke(market_id, sender=anyone)
    advance(86_400)
    receipt = breaker.poke(market_id, sender=anyone)
    assert receipt.decode_logs(breaker.DepthSampled)[0].samples == 30


def test_poke__stores_lapse(breaker, market_id, guardian, anyone):
    breaker.guardian_trip(market_id, sender=guardian)
    advance(14_400)
    breaker.poke(market_id, sender=anyone)
    assert breaker.status(market_id).state == COOLDOWN


def test_poke__unknown_market_reverts(breaker, market_id, anyone):
    with ape.reverts("CircuitBreaker: unknown market"):
        breaker.poke(7, sender=anyone)


def test_indicators__velocity_from_ring(breaker, market_id, venue, anyone):
    for price in (1.0, 1.05, 1.0):
        move_venue(venue, anyone, price=price)
        advance(12)
        breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.945)
    ind = breaker.indicators(market_id)
    assert ind.vp_bps == 1000  # (1.05 - 0.945) / 1.05
    assert ind.reference_valid and ind.cvd_bps == 550
