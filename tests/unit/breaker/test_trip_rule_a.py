"""Rule A: CVD and R_L hold, armed in one block and confirmed in a later one, by anyone."""

import ape
import pytest

from tests.constants import COOLDOWN, HALTED, NORMAL
from tests.helpers import DEPTH, HOLD_BLOCKS, WAD, advance, crash, hold, move_venue


@pytest.mark.threat
def test_trip__cvd_and_depth_hold(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    arm = breaker.arm_trip(market_id, sender=anyone)
    receipt = breaker.trip(market_id, sender=anyone)

    assert arm.decode_logs(breaker.TripArmed)[0].expires_at == arm.timestamp + 120
    assert breaker.state(market_id) == HALTED
    [event] = receipt.decode_logs(breaker.MarketTripped)
    assert (event.market_id, event.actor, event.reason) == (market_id, anyone, breaker.REASON_RULE_A())
    assert (event.cvd_bps, event.rl_bps, event.si_bps, event.vp_bps, event.lce_bps) == (1000, 1000, 0, 0, 0)
    assert event.frozen_price == WAD
    assert event.resume_after == receipt.timestamp + 360
    assert event.lapse_at == receipt.timestamp + 14_400
    assert breaker.frozen_price(market_id) == WAD
    assert breaker.status(market_id).armed_block == 0


@pytest.mark.threat
def test_trip__deviation_newer_than_the_hold_reverts(breaker, market_id, venue, anyone):
    """Two block starts (the arm's and the confirmation's) are not enough: the deviation must
    have held at the starts of the last `hold_blocks` blocks."""
    assert breaker.params(market_id, breaker.P_HOLD_BLOCKS()) == HOLD_BLOCKS
    move_venue(venue, anyone, price=0.90, depth_ratio=0.10)
    breaker.arm_trip(market_id, sender=anyone)
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__hold_of_two_blocks_confirms_in_the_block_after_the_arm(
    breaker, market_id, venue, anyone, governance
):
    """The shortest hold governance can set: the arm's block start and the confirmation's."""
    breaker.set_param(market_id, breaker.P_HOLD_BLOCKS(), 2, sender=governance)
    move_venue(venue, anyone, price=0.90, depth_ratio=0.10)
    breaker.arm_trip(market_id, sender=anyone)
    breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == HALTED


@pytest.mark.threat
def test_trip__without_arm_reverts(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    with ape.reverts("CircuitBreaker: not armed"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.parametrize("price, trips", [(1.0301, True), (1.03, False), (0.9699, True), (0.97, False)])
def test_trip__cvd_just_above_and_below_threshold(breaker, market_id, venue, anyone, price, trips):
    move_venue(venue, anyone, price=price, depth_ratio=0.10)
    if trips:
        hold()
        breaker.arm_trip(market_id, sender=anyone)
        breaker.trip(market_id, sender=anyone)
        assert breaker.state(market_id) == HALTED
    else:
        with ape.reverts("CircuitBreaker: deviation below trip threshold"):
            breaker.arm_trip(market_id, sender=anyone)
        assert breaker.state(market_id) == NORMAL


@pytest.mark.parametrize("depth_ratio, trips", [(0.1999, True), (0.20, False)])
@pytest.mark.threat
def test_trip__depth_just_below_and_above_threshold(breaker, market_id, venue, anyone, depth_ratio, trips):
    move_venue(venue, anyone, price=0.90, depth_ratio=depth_ratio)
    if trips:
        hold()
        breaker.arm_trip(market_id, sender=anyone)
        breaker.trip(market_id, sender=anyone)
        assert breaker.state(market_id) == HALTED
    else:
        with ape.reverts("CircuitBreaker: depth above trip threshold"):
            breaker.arm_trip(market_id, sender=anyone)


@pytest.mark.parametrize(
    "move, reason",
    [
        ({"depth_ratio": 1.0}, "CircuitBreaker: depth above trip threshold"),
        ({"depth_ratio": 0.20}, "CircuitBreaker: depth above trip threshold"),
        ({"price": 0.97}, "CircuitBreaker: deviation did not hold over the hold and since the arm"),
    ],
    ids=["depth-recovered", "depth-at-rl-trip", "deviation-at-cvd-trip"],
)
@pytest.mark.threat
def test_trip__condition_gone_at_confirmation_reverts(breaker, market_id, venue, anyone, move, reason):
    """At the confirmation's block start R_L must still be strictly below rl_trip_bps (20%), and the
    deviation strictly above cvd_trip_bps (3%) at every block start since the arm."""
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, **move)
    with ape.reverts(reason):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__venue_that_cannot_show_every_block_since_the_arm_reverts(breaker, market_id, venue, anyone):
    """The mock keeps 32 block starts: after 33 more, the blocks right after the arm are gone, so
    nothing shows the deviation held through them (the crash itself never moved)."""
    crash(venue, anyone)
    armed = breaker.arm_trip(market_id, sender=anyone)
    for _ in range(33):
        venue.set_price(90 * WAD // 100, sender=anyone)  # one recorded block start a block
    assert venue.settled_range(armed.block_number)[2] is False
    with ape.reverts("CircuitBreaker: venue cannot show every block since the arm"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.parametrize("blocks_after_the_arm, trips", [(1, True), (2, False)])
@pytest.mark.threat
def test_trip__venue_without_history_confirms_only_in_the_block_after_the_arm(
    breaker, market_id, venue, anyone, blocks_after_the_arm, trips
):
    """A venue that keeps no block starts (as UniswapV2Venue) shows only the current block's
    start: rule A then rests on two block starts, the arm's and the next one."""
    venue.set_no_history(True, sender=anyone)
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    ape.chain.mine(blocks_after_the_arm - 1)
    if trips:
        breaker.trip(market_id, sender=anyone)
        assert breaker.state(market_id) == HALTED
    else:
        with ape.reverts("CircuitBreaker: venue cannot show every block since the arm"):
            breaker.trip(market_id, sender=anyone)
        assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__arm_and_confirm_in_one_block_of_a_held_crash_reverts(
    project, breaker, market_id, venue, anyone
):
    """Even a real, held crash is confirmed only in a later block than its arm."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    crash(venue, anyone)
    with ape.reverts("CircuitBreaker: confirm in a later block than the arm"):
        attacker.attack(breaker, market_id, venue, 90 * WAD // 100, DEPTH // 10, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__arm_and_confirm_in_one_transaction_reverts(project, breaker, market_id, venue, anyone):
    """The flash-loan shape: distort, arm, confirm and restore inside one transaction."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    with ape.reverts("CircuitBreaker: deviation below trip threshold"):
        attacker.attack(breaker, market_id, venue, 90 * WAD // 100, DEPTH // 10, sender=anyone)
    assert breaker.state(market_id) == NORMAL
    assert breaker.status(market_id).armed_block == 0


@pytest.mark.threat
def test_trip__flash_arm_bundle_then_flash_trip_bundle_in_next_block_stays_normal(
    project, breaker, market_id, venue, anyone
):
    """Finding 1: an arm-only bundle in block b and a trip-only bundle in block b+1, each
    distorting the venue, calling the breaker and restoring in one transaction, are no evidence."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    with ape.reverts("CircuitBreaker: deviation below trip threshold"):
        attacker.arm_only(breaker, market_id, venue, 90 * WAD // 100, DEPTH // 10, sender=anyone)
    with ape.reverts("CircuitBreaker: not armed"):
        attacker.trip_only(breaker, market_id, venue, 90 * WAD // 100, DEPTH // 10, sender=anyone)
    assert breaker.state(market_id) == NORMAL
    assert breaker.status(market_id).trips_today == 0


@pytest.mark.threat
def test_trip__flash_trip_bundle_after_a_real_arm_reverts(project, breaker, market_id, venue, anyone):
    """The venue was distorted at the arm and arbitraged back; a flash distortion at the
    confirmation does not show the deviation held."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.0)
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        attacker.trip_only(breaker, market_id, venue, 90 * WAD // 100, DEPTH // 10, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__deviation_gone_for_one_block_between_arm_and_trip_reverts(breaker, market_id, venue, anyone):
    """Two distorted instants are not a held deviation: one block start in between at the
    reference voids the arm's evidence."""
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.0)
    move_venue(venue, anyone, price=0.90)
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__deviation_changing_side_between_arm_and_trip_reverts(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.10)
    move_venue(venue, anyone, price=0.90)
    with ape.reverts("CircuitBreaker: deviation did not hold over the hold and since the arm"):
        breaker.trip(market_id, sender=anyone)


@pytest.mark.threat
def test_trip__deviation_held_over_several_blocks_reports_the_smallest(breaker, market_id, venue, anyone):
    """CVD at the confirmation is the smallest deviation over the block starts since the arm."""
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.95)
    move_venue(venue, anyone, price=0.85)
    receipt = breaker.trip(market_id, sender=anyone)
    assert receipt.decode_logs(breaker.MarketTripped)[0].cvd_bps == 500
    assert breaker.state(market_id) == HALTED


@pytest.mark.threat
def test_trip__after_arm_expired_reverts(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    advance(121)
    with ape.reverts("CircuitBreaker: arm expired"):
        breaker.trip(market_id, sender=anyone)


@pytest.mark.threat
def test_trip__at_arm_expiry_succeeds(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    arm = breaker.arm_trip(market_id, sender=anyone)
    ape.chain.pending_timestamp = arm.timestamp + 120
    breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == HALTED


@pytest.mark.threat
def test_arm_trip__live_arm_cannot_be_overwritten_reverts(breaker, market_id, venue, anyone, keeper):
    """Re-arming would push the confirmation block forward forever (griefing)."""
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    with ape.reverts("CircuitBreaker: already armed"):
        breaker.arm_trip(market_id, sender=keeper)


@pytest.mark.threat
def test_arm_trip__expired_arm_can_be_renewed(breaker, market_id, venue, anyone):
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    advance(121)
    receipt = breaker.arm_trip(market_id, sender=anyone)
    assert breaker.status(market_id).armed_block == receipt.block_number


def test_arm_trip__while_halted_reverts(breaker, market_id, venue, anyone, guardian):
    breaker.guardian_trip(market_id, sender=guardian)
    crash(venue, anyone)
    with ape.reverts("CircuitBreaker: market is halted"):
        breaker.arm_trip(market_id, sender=anyone)


@pytest.mark.threat
def test_arm_trip__invalid_reference_reverts_with_oracle_reason(breaker, market_id, venue, feed, anyone):
    crash(venue, anyone)
    feed.set_answer(0, sender=anyone)
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 1 feeds valid (stale 0, non-positive 1, incomplete 0, failed 0)"
    ):
        breaker.arm_trip(market_id, sender=anyone)


def test_arm_trip__unknown_market_reverts(breaker, market_id, anyone):
    with ape.reverts("CircuitBreaker: unknown market"):
        breaker.arm_trip(market_id + 1, sender=anyone)


@pytest.mark.threat
def test_arm_trip__frozen_price_is_the_last_valid_reference(
    breaker, market_id, venue, feed, anyone, guardian
):
    """Finding 6: the frozen price is the last valid reference the breaker read (here at the
    arm), not the one from the last trip or the registration."""
    feed.set_answer(105 * 10**6, sender=anyone)
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    assert breaker.frozen_price(market_id) == 105 * WAD // 100
    feed.set_answer(0, sender=anyone)
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    assert receipt.decode_logs(breaker.MarketTripped)[0].frozen_price == 105 * WAD // 100


def test_arm_trip__at_arm_expiry_still_armed_reverts(breaker, market_id, venue, anyone, keeper):
    """The arm is live up to and including its expiry second, as `trip` accepts it then."""
    crash(venue, anyone)
    arm = breaker.arm_trip(market_id, sender=anyone)
    ape.chain.pending_timestamp = arm.timestamp + 120
    with ape.reverts("CircuitBreaker: already armed"):
        breaker.arm_trip(market_id, sender=keeper)


def test_trip__resume_arm_cannot_retrip_a_halted_market_reverts(
    breaker, market_id, venue, anyone, guardian_halted
):
    """An arm taken by arm_resume must not confirm a rule A trip that restarts the halt window."""
    status, _ = guardian_halted
    ape.chain.pending_timestamp = status.resume_after
    breaker.arm_resume(market_id, sender=anyone)
    crash(venue, anyone)
    with ape.reverts("CircuitBreaker: market is halted"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.status(market_id).resume_after == status.resume_after


def test_arm_trip__venue_closed_by_the_halt_refused_until_it_reopens(
    project, breaker, oracle, deployer, governance, guardian, anyone
):
    """A guarded pool that is its own venue shows its crash price in COOLDOWN: no rule A evidence."""
    from deployment.pool import deploy_pool

    market = deploy_pool(project, deployer, breaker, None, oracle, governance=governance, price=1.0).market_id
    breaker.guardian_trip(market, sender=guardian)
    breaker.force_resume(market, sender=governance)
    with ape.reverts("CircuitBreaker: venue closed until the market reopens"):
        breaker.arm_trip(market, sender=anyone)
    assert breaker.state(market) == COOLDOWN
