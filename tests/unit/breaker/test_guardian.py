"""Guardian: trips and extends at any time, never loosens."""

import ape
import pytest

from tests.constants import HALTED
from tests.helpers import WAD, advance, crash, recover


@pytest.mark.threat
def test_guardian_trip__calm_market(breaker, market_id, guardian):
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == HALTED
    [event] = receipt.decode_logs(breaker.MarketTripped)
    assert (event.actor, event.reason, event.cvd_bps, event.lce_bps) == (
        guardian,
        breaker.REASON_GUARDIAN(),
        0,
        0,
    )


def test_guardian_trip__already_halted_reverts(breaker, market_id, guardian):
    breaker.guardian_trip(market_id, sender=guardian)
    with ape.reverts("CircuitBreaker: market is halted"):
        breaker.guardian_trip(market_id, sender=guardian)


def test_guardian_trip__outside_daily_budget(breaker, market_id, guardian, governance):
    for _ in range(3):
        breaker.guardian_trip(market_id, sender=guardian)
        breaker.force_resume(market_id, sender=governance)
    breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == HALTED
    assert breaker.status(market_id).trips_today == 4


@pytest.mark.threat
def test_guardian_trip__counts_in_the_budget_as_the_halt_round_id(
    breaker, market_id, venue, guardian, governance, anyone
):
    """Kept by design (finding 6): every trip, the guardian's too, counts in trips_today, because
    (trip_day, trips_today) is the halt's round for the reopening auction and two halts of one
    day must not share a round. A precautionary guardian trip thus uses a rule A/B trip."""
    for _ in range(3):
        breaker.guardian_trip(market_id, sender=guardian)
        breaker.force_resume(market_id, sender=governance)
    crash(venue, anyone)
    with ape.reverts("CircuitBreaker: daily trip budget spent, guardian only"):
        breaker.arm_trip(market_id, sender=anyone)


def test_guardian_extend__pushes_resume(breaker, market_id, guardian):
    trip = breaker.guardian_trip(market_id, sender=guardian)
    receipt = breaker.guardian_extend(market_id, 3_600, sender=guardian)
    [event] = receipt.decode_logs(breaker.HaltExtended)
    assert event.old_resume_after == trip.timestamp + 360
    assert event.new_resume_after == receipt.timestamp + 3_600
    assert breaker.status(market_id).resume_after == receipt.timestamp + 3_600


@pytest.mark.threat
def test_guardian_extend__never_past_max_halt(breaker, market_id, guardian):
    trip = breaker.guardian_trip(market_id, sender=guardian)
    advance(14_000)
    breaker.guardian_extend(market_id, 14_400, sender=guardian)
    assert breaker.status(market_id).resume_after == trip.timestamp + 14_400


@pytest.mark.threat
def test_guardian_extend__cannot_shorten(breaker, market_id, guardian):
    breaker.guardian_extend  # noqa: B018 - documents the API under test
    breaker.guardian_trip(market_id, sender=guardian)
    breaker.guardian_extend(market_id, 3_600, sender=guardian)
    before = breaker.status(market_id).resume_after
    breaker.guardian_extend(market_id, 60, sender=guardian)
    assert breaker.status(market_id).resume_after == before


def test_guardian_extend__duration_out_of_bounds_reverts(breaker, market_id, guardian):
    breaker.guardian_trip(market_id, sender=guardian)
    with ape.reverts("CircuitBreaker: duration out of bounds"):
        breaker.guardian_extend(market_id, 0, sender=guardian)
    with ape.reverts("CircuitBreaker: duration out of bounds"):
        breaker.guardian_extend(market_id, 14_401, sender=guardian)


def test_guardian_extend__not_halted_reverts(breaker, market_id, guardian):
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.guardian_extend(market_id, 600, sender=guardian)


@pytest.mark.threat
def test_guardian__cannot_resume(breaker, market_id, guardian, venue, anyone):
    """Tighten-only: the guardian holds no resume power beyond what anyone has."""
    breaker.guardian_trip(market_id, sender=guardian)
    recover(venue, anyone)
    with ape.reverts("access_control: account is missing role"):
        breaker.force_resume(market_id, sender=guardian)
    with ape.reverts("CircuitBreaker: halt window not over"):
        breaker.arm_resume(market_id, sender=guardian)


def test_guardian_trip__freezes_the_reference_read_at_the_trip(breaker, market_id, feed, guardian, anyone):
    """The guardian's trip reads the reference itself: the frozen price is the one at the trip."""
    feed.set_answer(95 * 10**6, sender=anyone)
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    assert receipt.decode_logs(breaker.MarketTripped)[0].frozen_price == 95 * WAD // 100
    assert breaker.frozen_price(market_id) == 95 * WAD // 100
