"""Views: state, status, indicators, halt window, consumers, parameter bounds."""

import ape

from tests.constants import HALTED, NORMAL
from tests.helpers import WAD, crash


def test_state__normal_after_registration(breaker, market_id):
    assert breaker.state(market_id) == NORMAL
    assert breaker.status(market_id).state == NORMAL


def test_views__unknown_market_reverts(breaker, market_id):
    for view in (breaker.state, breaker.status, breaker.indicators, breaker.halt_window):
        with ape.reverts("CircuitBreaker: unknown market"):
            view(market_id + 1)


def test_indicators__crash(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    ind = breaker.indicators(market_id)
    assert (ind.spot, ind.reference, ind.reference_valid) == (9 * WAD // 10, WAD, True)
    assert (ind.cvd_bps, ind.rl_bps, ind.si_bps) == (1000, 1000, 0)


def test_indicators__invalid_reference_reads_zero_cvd(breaker, market_id, venue, feed, anyone):
    crash(venue, anyone)
    feed.set_answer(0, sender=anyone)
    ind = breaker.indicators(market_id)
    assert (ind.reference, ind.reference_valid, ind.cvd_bps) == (0, False, 0)


def test_indicators__unfillable_notional_reads_full_slippage(breaker, market_id, venue, anyone):
    venue.set_slippage_bps(10_000, sender=anyone)
    assert breaker.indicators(market_id).si_bps == 10_000


def test_param_bounds__unknown_key_reverts(breaker):
    with ape.reverts("CircuitBreaker: unknown parameter"):
        breaker.param_bounds(19)


def test_status__halted_fields(breaker, market_id, guardian):
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    s = breaker.status(market_id)
    assert (s.state, s.since, s.resume_after, s.lapse_at) == (
        HALTED,
        receipt.timestamp,
        receipt.timestamp + 360,
        receipt.timestamp + 14_400,
    )
    assert (s.trip_day, s.trips_today) == (receipt.timestamp // 86_400, 1)


REASON_CODES = {
    "REASON_RULE_A": 1,
    "REASON_RULE_B": 2,
    "REASON_GUARDIAN": 3,
    "REASON_RECOVERED": 4,
    "REASON_LAPSED": 5,
    "REASON_FORCED": 6,
    "REASON_COOLDOWN_ELAPSED": 7,
    "REASON_AUCTION_ELAPSED": 8,
    "REASON_LCE_CRITICAL": 9,
    "REASON_AUCTION_SETTLED": 10,
}


def test_reason_codes__are_the_documented_values(breaker):
    """Indexers and the keeper decode events by these numbers: they are part of the interface."""
    assert {name: getattr(breaker, name)() for name in REASON_CODES} == REASON_CODES


def test_halt_window_bounds__are_the_documented_values(breaker):
    assert (breaker.MIN_HALT_WINDOW(), breaker.MAX_HALT_WINDOW()) == (60, 3_600)


def test_state__several_phases_at_once_without_sync(breaker, market_id, guardian_halted):
    """The view walks lapse, cool-down and auction in one call, as sync stores them."""
    status, _ = guardian_halted
    ape.chain.pending_timestamp = status.lapse_at + 360
    ape.chain.mine()
    assert breaker.state(market_id) == NORMAL
    assert breaker.status(market_id).state == HALTED


def test_indicators__zero_price_reads_full_slippage(breaker, market_id, venue, anyone):
    venue.set_price(0, sender=anyone)
    assert breaker.indicators(market_id).si_bps == 10_000


def test_indicators__one_wei_price_reads_its_own_slippage(breaker, market_id, venue, anyone):
    """Only a zero price is read as full slippage; any other price is measured."""
    venue.set_price(1, sender=anyone)
    assert breaker.indicators(market_id).si_bps == 0
