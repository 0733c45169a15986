"""Daily trip budget: after M rule A/B trips in a UTC day only the guardian can trip."""

import ape
import pytest

from tests.constants import HALTED
from tests.helpers import advance, crash


def _trip_and_force_resume(breaker, market_id, venue, anyone, governance):
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    breaker.trip(market_id, sender=anyone)
    breaker.force_resume(market_id, sender=governance)


def _start_of_day(feed, sender):
    """Jump to just after midnight UTC, with the feed refreshed so it is not stale."""
    now = ape.chain.pending_timestamp
    ape.chain.pending_timestamp = now - now % 86_400 + 86_400 + 10
    feed.set_answer(10**8, sender=sender)


@pytest.mark.threat
def test_trip__budget_spent_reverts(breaker, market_id, venue, feed, anyone, governance):
    _start_of_day(feed, anyone)
    for _ in range(3):
        _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    with ape.reverts("CircuitBreaker: daily trip budget spent, guardian only"):
        breaker.arm_trip(market_id, sender=anyone)


@pytest.mark.threat
def test_trip__budget_resets_next_day(breaker, market_id, venue, feed, anyone, governance):
    _start_of_day(feed, anyone)
    for _ in range(3):
        _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    advance(86_400)
    feed.set_answer(10**8, sender=anyone)
    _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    assert breaker.status(market_id).trips_today == 1


@pytest.mark.threat
def test_guardian_trip__after_budget_spent(breaker, market_id, venue, feed, anyone, governance, guardian):
    _start_of_day(feed, anyone)
    for _ in range(3):
        _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == HALTED


@pytest.mark.threat
def test_trip__budget_day_turns_at_utc_midnight(breaker, market_id, venue, feed, anyone, governance):
    """The budget's day is the UTC day: spent ten seconds before midnight, fresh ten seconds after."""
    _start_of_day(feed, anyone)
    now = ape.chain.pending_timestamp
    ape.chain.pending_timestamp = now - now % 86_400 + 86_400 - 10 - 3 * 30
    feed.set_answer(10**8, sender=anyone)
    for _ in range(3):
        _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    assert ape.chain.blocks.head.timestamp < now - now % 86_400 + 86_400
    ape.chain.pending_timestamp = now - now % 86_400 + 86_400 + 10
    feed.set_answer(10**8, sender=anyone)
    _trip_and_force_resume(breaker, market_id, venue, anyone, governance)
    assert breaker.status(market_id).trip_day == (now - now % 86_400) // 86_400 + 1
