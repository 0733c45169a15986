"""Rule B: a KEEPER trips when V_P and S_I hold on-chain and it attests critical LCE."""

import ape
import pytest

from tests.constants import HALTED, NORMAL
from tests.helpers import DEPTH, LCE, WAD, advance, move_venue


def trip_by_velocity(breaker, market_id, keeper, vp_bps: int):
    """The keeper's rule B trip, asserted to halt the market with the V_P the contract measured."""
    receipt = breaker.trip_attested(market_id, LCE, sender=keeper)
    assert receipt.decode_logs(breaker.MarketTripped)[0].vp_bps == vp_bps
    assert breaker.state(market_id) == HALTED
    return receipt


@pytest.fixture
def fast_drop(breaker, market_id, venue, anyone):
    """An observation at 1.0 inside the V_P window, then the price falls 15% with 8% slippage."""
    advance(13)
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)


def test_trip_attested__velocity_slippage_and_lce_hold(breaker, market_id, keeper, fast_drop):
    receipt = breaker.trip_attested(market_id, LCE, sender=keeper)
    assert breaker.state(market_id) == HALTED
    [event] = receipt.decode_logs(breaker.MarketTripped)
    assert (event.actor, event.reason) == (keeper, breaker.REASON_RULE_B())
    assert (event.vp_bps, event.si_bps, event.lce_bps) == (1500, 800, LCE)
    assert event.frozen_price == WAD


def test_trip_attested__lce_below_critical_reverts(breaker, market_id, keeper, fast_drop):
    with ape.reverts("CircuitBreaker: attested LCE below critical"):
        breaker.trip_attested(market_id, 9_999, sender=keeper)


def test_trip_attested__lce_at_critical_trips(breaker, market_id, keeper, fast_drop):
    breaker.trip_attested(market_id, 10_000, sender=keeper)
    assert breaker.state(market_id) == HALTED


@pytest.mark.parametrize("price, trips", [(0.8999, True), (0.90, False)])
@pytest.mark.threat
def test_trip_attested__velocity_just_above_and_below_threshold(
    breaker, market_id, venue, keeper, anyone, fast_drop, price, trips
):
    move_venue(venue, anyone, price=price)
    if trips:
        breaker.trip_attested(market_id, LCE, sender=keeper)
        assert breaker.state(market_id) == HALTED
    else:
        with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
            breaker.trip_attested(market_id, LCE, sender=keeper)


@pytest.mark.parametrize("slippage, trips", [(501, True), (500, False)])
@pytest.mark.threat
def test_trip_attested__slippage_just_above_and_below_threshold(
    breaker, market_id, venue, keeper, anyone, fast_drop, slippage, trips
):
    move_venue(venue, anyone, slippage_bps=slippage)
    if trips:
        breaker.trip_attested(market_id, LCE, sender=keeper)
        assert breaker.state(market_id) == HALTED
    else:
        with ape.reverts("CircuitBreaker: slippage impact below trip threshold"):
            breaker.trip_attested(market_id, LCE, sender=keeper)


def test_trip_attested__high_outside_window_reverts(breaker, market_id, venue, keeper, anyone):
    """A high older than the V_P window does not count: the drop is not fast."""
    advance(13)
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    advance(301)
    ape.chain.mine(300 // 12)  # the venue's last block start at 1.0 leaves the window's blocks too
    with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
        breaker.trip_attested(market_id, LCE, sender=keeper)


@pytest.mark.threat
def test_trip_attested__keeper_cannot_trip_without_evidence(breaker, market_id, keeper):
    """A compromised keeper with a huge attestation cannot trip a calm market."""
    with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
        breaker.trip_attested(market_id, 1_000_000, sender=keeper)
    assert breaker.state(market_id) == NORMAL


def test_trip_attested__not_keeper_reverts(breaker, market_id, anyone, guardian, fast_drop):
    for account in (anyone, guardian):
        with ape.reverts("access_control: account is missing role"):
            breaker.trip_attested(market_id, LCE, sender=account)


@pytest.mark.threat
def test_trip_attested__invalid_reference_still_trips_with_last_frozen_price(
    breaker, market_id, keeper, feed, anyone, fast_drop
):
    """Rule B needs no reference price; the frozen price is the last valid one."""
    feed.set_answer(-1, sender=anyone)
    receipt = breaker.trip_attested(market_id, LCE, sender=keeper)
    assert receipt.decode_logs(breaker.MarketTripped)[0].frozen_price == WAD
    assert breaker.frozen_price(market_id) == WAD


@pytest.mark.threat
def test_trip_attested__observation_poked_inside_a_manipulated_block_is_no_evidence(
    project, breaker, market_id, venue, keeper, anyone
):
    """Finding 3: pump, poke, unwind in one transaction; the fake high must not make a 5% dip
    read as a 21% velocity to an honest keeper attesting critical LCE."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    advance(13)
    attacker.poke_only(breaker, market_id, venue, 12 * WAD // 10, DEPTH, sender=anyone)
    move_venue(venue, anyone, price=0.95, slippage_bps=800)
    with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
        breaker.trip_attested(market_id, LCE, sender=keeper)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip_attested__velocity_from_the_venue_block_starts_without_pokes(
    breaker, market_id, venue, keeper, anyone
):
    """Finding 3: nobody pokes (the registration's observation is out of the window); the
    venue's own block-start history gives V_P its high."""
    advance(400)
    move_venue(venue, anyone, price=0.92)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    trip_by_velocity(breaker, market_id, keeper, vp_bps=1500)


def test_trip_attested__while_halted_reverts(breaker, market_id, venue, keeper, guardian, anyone):
    advance(13)
    breaker.poke(market_id, sender=anyone)
    breaker.guardian_trip(market_id, sender=guardian)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    with ape.reverts("CircuitBreaker: market is halted"):
        breaker.trip_attested(market_id, LCE, sender=keeper)


def test_trip_attested__high_at_window_edge_counts(breaker, market_id, venue, keeper, anyone):
    """An observation exactly vp_window seconds old is still inside the window."""
    advance(13)
    poke = breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    ape.chain.pending_timestamp = poke.timestamp + 300
    trip_by_velocity(breaker, market_id, keeper, vp_bps=1500)


@pytest.mark.parametrize("blocks_later, trips", [(24, True), (25, False)])
def test_trip_attested__venue_block_start_at_window_edge(
    breaker, market_id, venue, keeper, anyone, blocks_later, trips
):
    """The venue's history is asked for the window's blocks at 12 s a block (vp_window 300 s: 25
    blocks): a block start 24 blocks back is inside the window, 25 blocks back is not."""
    advance(400)  # the registration's observation leaves the window; nobody pokes
    changed = venue.set_price(int(0.85 * WAD), sender=anyone)  # records the block start at 1.0
    venue.set_slippage_bps(800, sender=anyone)
    ape.chain.mine(changed.block_number + blocks_later - 1 - ape.chain.blocks.head.number)
    assert ape.chain.blocks.head.number + 1 == changed.block_number + blocks_later  # the trip's block
    if trips:
        receipt = trip_by_velocity(breaker, market_id, keeper, vp_bps=1500)
        assert receipt.block_number == changed.block_number + blocks_later
    else:
        with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
            breaker.trip_attested(market_id, LCE, sender=keeper)


def _poke_high_then_drop_out_of_the_venue_history(breaker, market_id, venue, anyone) -> int:
    """Pokes an observation at 1.0 at an even timestamp (the observation count shares its word
    with the timestamp's bits), drops the venue to 0.85 and mines 30 blocks a second apart: the
    venue's own history is read for the window's 25 blocks at 12 s a block and no longer shows
    1.0, so only the poked observation, inside the window's 300 s, holds the high. Returns the
    poke's timestamp."""
    advance(400)  # the registration's observation leaves the window
    ape.chain.pending_timestamp += ape.chain.pending_timestamp % 2
    poked_at = breaker.poke(market_id, sender=anyone).timestamp
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    for _ in range(30):
        advance(1)
    return poked_at


@pytest.mark.threat
def test_trip_attested__velocity_from_a_poked_high_the_venue_no_longer_shows(
    breaker, market_id, venue, keeper, anyone
):
    _poke_high_then_drop_out_of_the_venue_history(breaker, market_id, venue, anyone)
    trip_by_velocity(breaker, market_id, keeper, vp_bps=1500)


@pytest.mark.parametrize("seconds_later, trips", [(300, True), (301, False)])
def test_trip_attested__poked_high_at_window_edge(
    breaker, market_id, venue, keeper, anyone, seconds_later, trips
):
    """A poked observation exactly vp_window (300 s) old still counts; a second later it does not."""
    poked_at = _poke_high_then_drop_out_of_the_venue_history(breaker, market_id, venue, anyone)
    ape.chain.pending_timestamp = poked_at + seconds_later
    if trips:
        trip_by_velocity(breaker, market_id, keeper, vp_bps=1500)
    else:
        with ape.reverts("CircuitBreaker: price velocity below trip threshold"):
            breaker.trip_attested(market_id, LCE, sender=keeper)
