"""poke: price observations for V_P and depth samples for the R_L baseline, both as the
previous block left the venue."""

import ape
import pytest

from keeper import params as P
from tests.constants import COOLDOWN
from tests.helpers import DEPTH, WAD, advance, move_venue

MAX_PRICE = 2**128 - 1  # observations pack the price into 128 bits


def test_poke__records_observation_after_spacing(breaker, market_id, anyone):
    advance(12)
    assert breaker.poke.call(market_id, sender=anyone) is True


def test_poke__within_spacing_records_nothing(breaker, market_id, anyone):
    advance(12)
    breaker.poke(market_id, sender=anyone)
    assert breaker.poke.call(market_id, sender=anyone) is False


def test_poke__depth_sample_every_interval(breaker, market_id, venue, anyone):
    advance(21_600)
    move_venue(venue, anyone, depth_ratio=0.5)
    receipt = breaker.poke(market_id, sender=anyone)
    [event] = receipt.decode_logs(breaker.DepthSampled)
    assert (event.market_id, event.depth, event.baseline, event.samples) == (market_id, DEPTH // 2, DEPTH, 1)
    assert breaker.poke.call(market_id, sender=anyone) is False


@pytest.mark.threat
def test_poke__samples_replace_the_calm_depth_seed_by_median(breaker, market_id, venue, anyone):
    """The baseline is the median of 30: samples, then the seed in the slots not yet sampled."""
    move_venue(venue, anyone, depth_ratio=0.5)
    for _ in range(15):
        advance(21_600)
        breaker.poke(market_id, sender=anyone)
    assert breaker.depth_baseline(market_id) == (DEPTH + DEPTH // 2) // 2  # 15 samples, 15 seeds
    advance(21_600)
    breaker.poke(market_id, sender=anyone)
    assert breaker.depth_baseline(market_id) == DEPTH // 2


@pytest.mark.threat
def test_poke__baseline_resists_one_manipulated_sample(breaker, market_id, venue, anyone):
    """A depth inflated for a whole block at one sample moves the median of 30 by at most one rank."""
    for _ in range(4):
        advance(21_600)
        breaker.poke(market_id, sender=anyone)
    advance(21_600)
    move_venue(venue, anyone, depth_ratio=100.0)
    breaker.poke(market_id, sender=anyone)
    assert breaker.depth_baseline(market_id) == DEPTH


@pytest.mark.parametrize("depth_ratio", [9.0, 0.001])
@pytest.mark.threat
def test_poke__flash_inflated_or_drained_depth_sample_moves_rl_within_bound(
    project, breaker, market_id, venue, anyone, depth_ratio
):
    """Finding 2: add liquidity, poke, remove it (or the reverse) in one transaction. The sample
    reads the depth the previous block left, and one sample moves the median by at most one
    rank of the other 29 values: here all at the calm depth, so the bound on R_L is 0."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    rl_before = breaker.indicators(market_id).rl_bps
    advance(21_600)
    receipt = attacker.poke_only(breaker, market_id, venue, WAD, int(depth_ratio * DEPTH), sender=anyone)
    [event] = receipt.decode_logs(breaker.DepthSampled)
    assert event.depth == DEPTH
    assert breaker.depth_baseline(market_id) == DEPTH
    assert breaker.indicators(market_id).rl_bps == rl_before == 10_000


@pytest.mark.parametrize("depth_ratio", [9.0, 0.001])
@pytest.mark.threat
def test_poke__depth_held_for_a_block_at_one_sample_moves_rl_within_bound(
    breaker, market_id, venue, anyone, depth_ratio
):
    """Holding the distortion across a block boundary makes it a real sample, still one of 30."""
    advance(21_600)
    move_venue(venue, anyone, depth_ratio=depth_ratio)
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, depth_ratio=1.0)
    assert breaker.depth_baseline(market_id) == DEPTH
    assert breaker.indicators(market_id).rl_bps == 10_000


def test_poke__ring_of_thirty_samples(breaker, market_id, venue, anyone):
    for _ in range(31):
        advance(21_600)
        breaker.poke(market_id, sender=anyone)
    advance(21_600)
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


@pytest.mark.threat
def test_poke__observation_inside_a_manipulated_block_records_the_block_start(
    project, breaker, market_id, venue, anyone
):
    """Finding 3: a poke between a pump and its unwind records the price the block opened with."""
    attacker = project.FlashTripper.deploy(sender=anyone)
    advance(13)
    attacker.poke_only(breaker, market_id, venue, 12 * WAD // 10, DEPTH, sender=anyone)
    move_venue(venue, anyone, price=0.95)
    assert breaker.indicators(market_id).vp_bps == 500  # from 1.0, not from the pumped 1.2


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


def test_poke__depth_sample_between_observations_keeps_the_observation_ring(
    breaker, market_id, venue, anyone, governance
):
    """A depth sample rewrites the depth half of the packed sampling word and must leave the
    observation half (head, count, last time) alone: with the ring's head at 3 (the
    registration's observation in slot 0, then slots 1 and 2), the next observation goes to slot
    3 and the high in slot 2 is still there for V_P. An odd head: a mask that dropped its low bit
    would send the next observation onto the high."""
    window = P.BY_NAME["vp_window_s"].key
    breaker.set_param(market_id, window, 3_600, sender=governance)  # an observation every 150 s
    advance(21_600)
    start = breaker.poke(market_id, sender=anyone).timestamp  # observation (slot 1) and depth sample

    def poke_at(t: int):
        ape.chain.pending_timestamp = start + t
        return breaker.poke(market_id, sender=anyone)

    ape.chain.pending_timestamp = start + 21_200
    move_venue(venue, anyone, price=1.1)
    poke_at(21_500)  # slot 2, at 1.1: the high
    depth_only = poke_at(21_600)  # a depth sample is due, the next observation (21,650) is not
    assert len(depth_only.decode_logs(breaker.DepthSampled)) == 1
    ape.chain.pending_timestamp = start + 21_700
    move_venue(venue, anyone, price=1.0)
    poke_at(21_800)  # slot 3, at 1.0
    for _ in range(32):  # the venue's own ring of block starts forgets the high
        move_venue(venue, anyone, price=1.0)
    assert breaker.indicators(market_id).vp_bps == 909  # 1.1 -> 1.0, from the observation alone
