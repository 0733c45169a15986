"""Resume: after N, recovery confirmed in two blocks; extension, lapse, restart phases."""

import ape
import pytest

from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.helpers import LCE, advance, crash, move_venue, recover, trip_rule_a


@pytest.fixture
def halted(breaker, market_id, venue, anyone):
    trip_rule_a(breaker, market_id, venue, anyone)
    recover(venue, anyone)
    return breaker.status(market_id)


@pytest.mark.threat
def test_resume__after_halt_window_with_recovery(breaker, market_id, anyone, halted):
    ape.chain.pending_timestamp = halted.resume_after
    arm = breaker.arm_resume(market_id, sender=anyone)
    [armed] = arm.decode_logs(breaker.ResumeArmed)
    assert (armed.actor, armed.cvd_bps, armed.rl_bps, armed.expires_at) == (
        anyone,
        0,
        10_000,
        arm.timestamp + 120,
    )
    receipt = breaker.resume(market_id, sender=anyone)
    assert breaker.state(market_id) == COOLDOWN
    [event] = receipt.decode_logs(breaker.MarketResumed)
    assert (event.actor, event.reason, event.cvd_bps, event.rl_bps) == (
        anyone,
        breaker.REASON_RECOVERED(),
        0,
        10_000,
    )
    assert event.halted_s == receipt.timestamp - halted.since


def test_arm_resume__before_halt_window_reverts(breaker, market_id, anyone, halted):
    ape.chain.pending_timestamp = halted.resume_after - 1
    with ape.reverts("CircuitBreaker: halt window not over"):
        breaker.arm_resume(market_id, sender=anyone)


@pytest.mark.threat
def test_resume__in_same_block_as_arm_reverts(breaker, market_id, anyone, halted):
    """Confirmation needs a later block; a resume without an arm is refused too."""
    ape.chain.pending_timestamp = halted.resume_after
    with ape.reverts("CircuitBreaker: not armed"):
        breaker.resume(market_id, sender=anyone)


@pytest.mark.parametrize("price, resumes", [(1.0099, True), (1.01, False)])
def test_resume__cvd_just_below_and_at_threshold(breaker, market_id, venue, anyone, halted, price, resumes):
    move_venue(venue, anyone, price=price)
    ape.chain.pending_timestamp = halted.resume_after
    if resumes:
        breaker.arm_resume(market_id, sender=anyone)
        breaker.resume(market_id, sender=anyone)
        assert breaker.state(market_id) == COOLDOWN
    else:
        with ape.reverts("CircuitBreaker: deviation above resume threshold"):
            breaker.arm_resume(market_id, sender=anyone)


@pytest.mark.parametrize("depth_ratio, resumes", [(0.5001, True), (0.50, False)])
def test_resume__depth_just_above_and_at_threshold(
    breaker, market_id, venue, anyone, halted, depth_ratio, resumes
):
    move_venue(venue, anyone, depth_ratio=depth_ratio)
    ape.chain.pending_timestamp = halted.resume_after
    if resumes:
        breaker.arm_resume(market_id, sender=anyone)
        breaker.resume(market_id, sender=anyone)
        assert breaker.state(market_id) == COOLDOWN
    else:
        with ape.reverts("CircuitBreaker: depth below resume threshold"):
            breaker.arm_resume(market_id, sender=anyone)


@pytest.mark.threat
def test_resume__relapse_between_arm_and_confirm_reverts(breaker, market_id, venue, anyone, halted):
    ape.chain.pending_timestamp = halted.resume_after
    breaker.arm_resume(market_id, sender=anyone)
    move_venue(venue, anyone, depth_ratio=0.3)
    with ape.reverts("CircuitBreaker: depth below resume threshold"):
        breaker.resume(market_id, sender=anyone)
    assert breaker.state(market_id) == HALTED


def test_extend_halt__keeper_attests_critical_lce(breaker, market_id, keeper, halted):
    receipt = breaker.extend_halt(market_id, 10_000, sender=keeper)
    [event] = receipt.decode_logs(breaker.HaltExtended)
    assert (event.actor, event.reason, event.lce_bps) == (keeper, breaker.REASON_LCE_CRITICAL(), 10_000)
    assert event.new_resume_after == receipt.timestamp + 360


@pytest.mark.threat
def test_extend_halt__lce_below_critical_reverts(breaker, market_id, keeper, halted):
    with ape.reverts("CircuitBreaker: attested LCE below critical"):
        breaker.extend_halt(market_id, 9_999, sender=keeper)


def test_extend_halt__cancels_pending_resume_arm(breaker, market_id, keeper, anyone, halted):
    ape.chain.pending_timestamp = halted.resume_after
    breaker.arm_resume(market_id, sender=anyone)
    breaker.extend_halt(market_id, 10_000, sender=keeper)
    with ape.reverts("CircuitBreaker: halt window not over"):
        breaker.resume(market_id, sender=anyone)


@pytest.mark.threat
def test_extend_halt__never_past_max_halt(breaker, market_id, keeper, halted):
    advance(14_300)
    breaker.extend_halt(market_id, 10_000, sender=keeper)
    assert breaker.status(market_id).resume_after == halted.lapse_at


@pytest.mark.threat
def test_halt__lapses_at_max_halt(breaker, market_id, venue, anyone, keeper, halted):
    """No halt outlives max_halt without governance, even if the keeper keeps extending."""
    move_venue(venue, anyone, price=0.9, depth_ratio=0.1)
    breaker.extend_halt(market_id, 10_000, sender=keeper)
    ape.chain.pending_timestamp = halted.lapse_at - 1
    ape.chain.mine()
    assert breaker.state(market_id) == HALTED
    ape.chain.pending_timestamp = halted.lapse_at
    ape.chain.mine()
    assert breaker.state(market_id) == COOLDOWN
    receipt = breaker.sync(market_id, sender=anyone)
    [event] = receipt.decode_logs(breaker.StateAdvanced)
    assert (event.reason, event.old_state, event.new_state) == (breaker.REASON_LAPSED(), HALTED, COOLDOWN)
    assert breaker.status(market_id).state == COOLDOWN


def test_sync__cooldown_then_auction_then_normal(breaker, market_id, anyone, governance, halted):
    resumed = breaker.force_resume(market_id, sender=governance)
    ape.chain.pending_timestamp = resumed.timestamp + 179
    ape.chain.mine()
    assert breaker.state(market_id) == COOLDOWN
    ape.chain.pending_timestamp = resumed.timestamp + 180
    breaker.sync(market_id, sender=anyone)
    assert breaker.status(market_id).state == AUCTION
    ape.chain.pending_timestamp = resumed.timestamp + 360
    receipt = breaker.sync(market_id, sender=anyone)
    assert [e.reason for e in receipt.decode_logs(breaker.StateAdvanced)] == [
        breaker.REASON_AUCTION_ELAPSED()
    ]
    assert breaker.state(market_id) == NORMAL


def test_sync__several_phases_at_once(breaker, market_id, anyone, halted):
    ape.chain.pending_timestamp = halted.lapse_at + 360
    receipt = breaker.sync(market_id, sender=anyone)
    reasons = [e.reason for e in receipt.decode_logs(breaker.StateAdvanced)]
    assert reasons == [
        breaker.REASON_LAPSED(),
        breaker.REASON_COOLDOWN_ELAPSED(),
        breaker.REASON_AUCTION_ELAPSED(),
    ]
    assert breaker.status(market_id).state == NORMAL


def test_sync__nothing_to_do_emits_nothing(breaker, market_id, anyone):
    receipt = breaker.sync(market_id, sender=anyone)
    assert receipt.decode_logs(breaker.StateAdvanced) == []


@pytest.mark.threat
def test_force_resume__governance(breaker, market_id, governance, halted):
    receipt = breaker.force_resume(market_id, sender=governance)
    assert receipt.decode_logs(breaker.MarketResumed)[0].reason == breaker.REASON_FORCED()
    assert breaker.state(market_id) == COOLDOWN


def test_force_resume__not_halted_reverts(breaker, market_id, governance):
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.force_resume(market_id, sender=governance)


def test_trip__from_cooldown_retrips(breaker, market_id, venue, anyone, governance, halted):
    breaker.force_resume(market_id, sender=governance)
    trip_rule_a(breaker, market_id, venue, anyone)
    assert breaker.state(market_id) == HALTED


@pytest.mark.threat
def test_resume__venue_closed_by_the_halt_resumes_on_depth(
    project, breaker, oracle, deployer, governance, guardian, anyone
):
    """A guarded pool that is its own venue cannot trade back to the reference while halted:
    its recovery is judged on depth (and a valid reference), not on its frozen price."""
    from deployment.pool import NO_DEADLINE, deploy_pool

    deployed = deploy_pool(project, deployer, breaker, None, oracle, governance=governance, price=1.0)
    market, pool = deployed.market_id, deployed.pool
    collateral = deployed.collateral
    assert breaker.venue_halts_with_market(market)
    # a dump moves the pool 4% below the reference, then the market halts
    collateral.mint(anyone, 25_000 * 10**18, sender=deployer)
    collateral.approve(pool, 2**256 - 1, sender=anyone)
    pool.swap(True, 20_000 * 10**18, 0, NO_DEADLINE, sender=anyone)
    breaker.guardian_trip(market, sender=guardian)
    assert breaker.indicators(market).cvd_bps > 100
    ape.chain.pending_timestamp += breaker.halt_window(market)
    breaker.arm_resume(market, sender=anyone)
    receipt = breaker.resume(market, sender=anyone)
    assert receipt.decode_logs(breaker.MarketResumed)[0].cvd_bps > 100
    assert breaker.state(market) == COOLDOWN


@pytest.mark.threat
def test_resume__closed_venue_resumes_on_depth_lent_for_two_block_starts(
    project, breaker, oracle, deployer, governance, guardian, anyone
):
    """Known limit, pinned: a halted guarded pool takes no swaps, so depth held across its block
    starts risks nothing. Liquidity deposited for the arm's and the confirmation's block starts
    ends the halt once its window is over and leaves in COOLDOWN at no cost. What it cannot
    shorten: the halt window, the cool-down and the auction (the market reopens only after
    them) and the lending market's grace; deposits are closed from COOLDOWN on."""
    from deployment.pool import NO_DEADLINE, deploy_pool

    deployed = deploy_pool(project, deployer, breaker, None, oracle, governance=governance, price=1.0)
    market, pool = deployed.market_id, deployed.pool
    collateral, debt = deployed.collateral, deployed.debt
    pool.remove_liquidity(pool.balanceOf(deployer) * 9 // 10, 0, 0, sender=deployer)  # the LPs leave
    breaker.guardian_trip(market, sender=guardian)
    ape.chain.pending_timestamp += breaker.halt_window(market)
    with ape.reverts("CircuitBreaker: depth below resume threshold"):
        breaker.arm_resume(market, sender=anyone)

    x, y = pool.reserves()
    for token, amount in ((collateral, 9 * x), (debt, 9 * y)):
        token.mint(anyone, amount, sender=deployer)
        token.approve(pool, amount, sender=anyone)
    shares = pool.add_liquidity(9 * x, 9 * y, 0, NO_DEADLINE, sender=anyone).return_value
    ape.chain.mine()
    breaker.arm_resume(market, sender=anyone)
    breaker.resume(market, sender=anyone)
    assert breaker.state(market) == COOLDOWN
    pool.remove_liquidity(shares, 0, 0, sender=anyone)
    # Lent, not spent: all of it back but the rounding of a deposit and a withdrawal.
    assert 9 * x - 2 <= collateral.balanceOf(anyone) <= 9 * x
    assert 9 * y - 2 <= debt.balanceOf(anyone) <= 9 * y
    with ape.reverts("GuardedPool: deposits closed until the market reopens"):
        pool.add_liquidity(x, y, 0, NO_DEADLINE, sender=anyone)


def test_resume__external_venue_still_needs_price_recovery(breaker, market_id, venue, anyone, guardian):
    assert not breaker.venue_halts_with_market(market_id)
    breaker.guardian_trip(market_id, sender=guardian)
    move_venue(venue, anyone, price=0.95)
    advance(breaker.halt_window(market_id))
    with ape.reverts("CircuitBreaker: deviation above resume threshold"):
        breaker.arm_resume(market_id, sender=anyone)


def test_extend_halt__not_halted_reverts(breaker, market_id, keeper):
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.extend_halt(market_id, LCE, sender=keeper)
    assert breaker.status(market_id).resume_after == 0


def test_arm_resume__live_arm_cannot_be_overwritten_reverts(
    breaker, market_id, anyone, keeper, guardian_halted
):
    """Re-arming would push the confirmation block forward forever (griefing), as for trips."""
    status, _ = guardian_halted
    ape.chain.pending_timestamp = status.resume_after
    breaker.arm_resume(market_id, sender=anyone)
    with ape.reverts("CircuitBreaker: already armed"):
        breaker.arm_resume(market_id, sender=keeper)


def test_arm_resume__not_halted_reverts(breaker, market_id, venue, anyone):
    """A resume arm on a calm market would count as a live arm and block rule A's arm_trip."""
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.arm_resume(market_id, sender=anyone)
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


def test_resume__trip_arm_cannot_move_a_normal_market_to_cooldown_reverts(breaker, market_id, venue, anyone):
    """An arm taken by arm_trip must not confirm a resume once the crash is over."""
    crash(venue, anyone)
    breaker.arm_trip(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.0, depth_ratio=1.0)
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.resume(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL


def test_sync__auction_elapsed_since_is_the_end_of_the_phase(
    breaker, market_id, governance, anyone, guardian_halted
):
    resumed = breaker.force_resume(market_id, sender=governance)
    ape.chain.pending_timestamp = resumed.timestamp + 400
    breaker.sync(market_id, sender=anyone)
    assert (breaker.status(market_id).state, breaker.status(market_id).since) == (
        NORMAL,
        resumed.timestamp + 360,
    )
