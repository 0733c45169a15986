"""Edges the mutation run (tools/mutate.py) showed untested: exact boundaries, checks that another
check used to hide, and the auction hand-over. Each test names the behaviour, not the mutant."""

import ape
import pytest

from keeper import params as P
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.helpers import DEPTH, advance, crash, move_venue

ZERO = "0x0000000000000000000000000000000000000000"
LCE = 20_000  # attested exposure, above the default critical level of 10,000 bps
MAX_PRICE = 2**128 - 1  # observations pack the price into 128 bits


@pytest.fixture
def halted(breaker, market_id, guardian):
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    return breaker.status(market_id), receipt


@pytest.fixture
def auction(project, deployer):
    """Any contract can be named a market's auction; a mock consumer stands in for one."""
    return project.MockConsumer.deploy(sender=deployer)


@pytest.fixture
def as_auction(accounts, chain, auction):
    """The auction contract's own address as a sender (impersonated)."""
    chain.set_balance(auction.address, 10**18)
    return accounts[auction.address]


@pytest.fixture
def in_auction(breaker, market_id, governance, auction, halted):
    """The market's auction is set and the cool-down is over (not yet stored)."""
    breaker.set_auction(market_id, auction, sender=governance)
    resumed = breaker.force_resume(market_id, sender=governance)
    ape.chain.pending_timestamp = resumed.timestamp + 180
    return resumed


# ---------------------------------------------------------------- register


def test_register_market__venue_without_price_reverts(
    project, breaker, oracle, governance, deployer, params_array
):
    no_price = project.MockVenue.deploy(0, DEPTH, sender=deployer)
    with ape.reverts("CircuitBreaker: venue has no price"):
        breaker.register_market(no_price, oracle, params_array(), sender=governance)


# ---------------------------------------------------------------- parameters


def test_set_param__halt_window_at_upper_bound_succeeds(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 3_540, sender=governance)
    assert breaker.halt_window(market_id) == 3_600


def test_set_param__halt_window_equal_to_max_halt_reverts(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["max_halt_s"].key, 900, sender=governance)
    with ape.reverts("CircuitBreaker: halt window N must be below max halt"):
        breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 840, sender=governance)


# ---------------------------------------------------------------- rule A arm


def test_arm_trip__at_arm_expiry_still_armed_reverts(breaker, market_id, venue, anyone, keeper):
    """The arm is live up to and including its expiry second, as `trip` accepts it then."""
    crash(venue, anyone)
    arm = breaker.arm_trip(market_id, sender=anyone)
    ape.chain.pending_timestamp = arm.timestamp + 120
    with ape.reverts("CircuitBreaker: already armed"):
        breaker.arm_trip(market_id, sender=keeper)


def test_trip__resume_arm_cannot_retrip_a_halted_market_reverts(breaker, market_id, venue, anyone, halted):
    """An arm taken by arm_resume must not confirm a rule A trip that restarts the halt window."""
    status, _ = halted
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


# ---------------------------------------------------------------- rule B


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
    receipt = breaker.trip_attested(market_id, LCE, sender=keeper)
    assert receipt.decode_logs(breaker.MarketTripped)[0].vp_bps == 1500
    assert breaker.state(market_id) == HALTED


# ---------------------------------------------------------------- extensions and resume


def test_extend_halt__not_halted_reverts(breaker, market_id, keeper):
    with ape.reverts("CircuitBreaker: market is not halted"):
        breaker.extend_halt(market_id, LCE, sender=keeper)
    assert breaker.status(market_id).resume_after == 0


def test_arm_resume__live_arm_cannot_be_overwritten_reverts(breaker, market_id, anyone, keeper, halted):
    """Re-arming would push the confirmation block forward forever (griefing), as for trips."""
    status, _ = halted
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


# ---------------------------------------------------------------- time-made transitions


def test_state__several_phases_at_once_without_sync(breaker, market_id, halted):
    """The view walks lapse, cool-down and auction in one call, as sync stores them."""
    status, _ = halted
    ape.chain.pending_timestamp = status.lapse_at + 360
    ape.chain.mine()
    assert breaker.state(market_id) == NORMAL
    assert breaker.status(market_id).state == HALTED


def test_sync__auction_elapsed_since_is_the_end_of_the_phase(breaker, market_id, governance, anyone, halted):
    resumed = breaker.force_resume(market_id, sender=governance)
    ape.chain.pending_timestamp = resumed.timestamp + 400
    breaker.sync(market_id, sender=anyone)
    assert (breaker.status(market_id).state, breaker.status(market_id).since) == (
        NORMAL,
        resumed.timestamp + 360,
    )


# ---------------------------------------------------------------- auction hand-over


def test_set_auction__logs_old_and_new(breaker, market_id, governance, auction):
    receipt = breaker.set_auction(market_id, auction, sender=governance)
    assert receipt.decode_logs(breaker.AuctionSet) == [
        breaker.AuctionSet(market_id=market_id, old=ZERO, new=auction.address, actor=governance)
    ]
    receipt = breaker.set_auction(market_id, ZERO, sender=governance)
    assert receipt.decode_logs(breaker.AuctionSet) == [
        breaker.AuctionSet(market_id=market_id, old=auction.address, new=ZERO, actor=governance)
    ]
    assert breaker.auction_of(market_id) == ZERO


def test_set_auction__not_a_contract_reverts(breaker, market_id, governance, anyone):
    with ape.reverts("CircuitBreaker: auction is not a contract"):
        breaker.set_auction(market_id, anyone, sender=governance)


def test_settle_auction__by_the_auction(breaker, market_id, as_auction, in_auction):
    receipt = breaker.settle_auction(market_id, sender=as_auction)
    assert [
        (e.actor, e.reason, e.old_state, e.new_state) for e in receipt.decode_logs(breaker.StateAdvanced)
    ] == [
        (as_auction.address, breaker.REASON_COOLDOWN_ELAPSED(), COOLDOWN, AUCTION),
        (as_auction.address, breaker.REASON_AUCTION_SETTLED(), AUCTION, NORMAL),
    ]
    assert (breaker.status(market_id).state, breaker.status(market_id).since) == (NORMAL, receipt.timestamp)


def test_settle_auction__not_the_auction_reverts(breaker, market_id, anyone, in_auction):
    with ape.reverts("CircuitBreaker: caller is not the market's auction"):
        breaker.settle_auction(market_id, sender=anyone)


def test_settle_auction__in_cooldown_reverts(breaker, market_id, as_auction, in_auction):
    ape.chain.pending_timestamp = in_auction.timestamp + 179
    with ape.reverts("CircuitBreaker: market is not in auction"):
        breaker.settle_auction(market_id, sender=as_auction)
    assert breaker.status(market_id).state == COOLDOWN


# ---------------------------------------------------------------- observations


def test_poke__observation_exactly_one_spacing_later(breaker, market_id, venue, anyone):
    """Spacing is vp_window / 24 = 12 s by default; an observation is due at exactly +12 s."""
    advance(12)
    first = breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.2)
    ape.chain.pending_timestamp = first.timestamp + 12
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.0)
    assert breaker.indicators(market_id).vp_bps == 1666  # (1.2 - 1.0) / 1.2: the 1.2 was recorded


def test_poke__spacing_is_a_24th_of_the_window(breaker, market_id, venue, anyone, governance):
    breaker.set_param(market_id, P.BY_NAME["vp_window_s"].key, 3_600, sender=governance)
    advance(150)
    first = breaker.poke(market_id, sender=anyone)
    ape.chain.pending_timestamp = first.timestamp + 149
    assert breaker.poke(market_id, sender=anyone).return_value is False  # 149 s < 3,600 / 24
    ape.chain.pending_timestamp = first.timestamp + 150
    assert breaker.poke(market_id, sender=anyone).return_value is True


def test_poke__depth_sample_exactly_one_interval_later(breaker, market_id, anyone):
    advance(21_600)
    first = breaker.poke(market_id, sender=anyone)
    ape.chain.pending_timestamp = first.timestamp + 21_599
    assert breaker.poke(market_id, sender=anyone).decode_logs(breaker.DepthSampled) == []
    ape.chain.pending_timestamp = first.timestamp + 21_600
    receipt = breaker.poke(market_id, sender=anyone)
    assert receipt.decode_logs(breaker.DepthSampled) == [
        breaker.DepthSampled(market_id=market_id, depth=DEPTH, baseline=DEPTH, samples=2)
    ]


def test_poke__price_at_top_of_range_recorded(breaker, market_id, venue, anyone):
    advance(12)
    venue.set_price(MAX_PRICE, sender=anyone)
    breaker.poke(market_id, sender=anyone)
    venue.set_price(MAX_PRICE // 2, sender=anyone)
    ape.chain.mine()
    assert breaker.indicators(market_id).vp_bps == 5_000


@pytest.mark.parametrize("price", [0, MAX_PRICE + 1], ids=["zero", "above_128_bits"])
def test_poke__price_out_of_range_reverts(breaker, market_id, venue, anyone, price):
    advance(12)
    venue.set_price(price, sender=anyone)
    with ape.reverts("CircuitBreaker: venue price out of range"):
        breaker.poke(market_id, sender=anyone)


def test_poke__ring_keeps_the_last_32_observations(breaker, market_id, venue, anyone, governance):
    """An older high is forgotten once 32 newer observations are kept, even if the window then
    widens (the venue's own history of 32 block starts has forgotten it too)."""
    window = P.BY_NAME["vp_window_s"].key
    breaker.set_param(market_id, window, 60, sender=governance)  # an observation every 2 s
    advance(2)
    move_venue(venue, anyone, price=1.1)
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=1.0)
    for _ in range(32):
        advance(2)
        move_venue(venue, anyone, price=1.0)
        breaker.poke(market_id, sender=anyone)
    breaker.set_param(market_id, window, 3_600, sender=governance)
    assert breaker.indicators(market_id).vp_bps == 0


# ---------------------------------------------------------------- indicators


def test_indicators__zero_price_reads_full_slippage(breaker, market_id, venue, anyone):
    venue.set_price(0, sender=anyone)
    assert breaker.indicators(market_id).si_bps == 10_000


def test_indicators__one_wei_price_reads_its_own_slippage(breaker, market_id, venue, anyone):
    """Only a zero price is read as full slippage; any other price is measured."""
    venue.set_price(1, sender=anyone)
    assert breaker.indicators(market_id).si_bps == 0
