"""Gas of the breaker's transactions: arm, trips by rule A and B, poke, resume.

Each figure is the median gasUsed of MIN_SAMPLES whole transactions on a freshly deployed
breaker with one market (a mock venue and one mock feed), as in production minus consumers.

`gas.breaker.poke_per_day_one_a_block` prices a keeper that pokes every block (7,200 a day):
what V_P costs on a venue without its own block-start history (a Uniswap V2 pair). A guarded
pool records its block starts on its own trades, so its market needs no observation pokes;
depth samples (at most four a day) are `gas.breaker.poke_daily_depth_sample` each.
"""

from __future__ import annotations

from statistics import median

from ape import chain

from bench import MIN_SAMPLES
from keeper import params as P

WAD = 10**18
DEPTH = 8_000_000 * WAD
DAY = 86_400
BLOCKS_PER_DAY = 7_200
DEPTH_SAMPLES_PER_DAY = 4


def _deploy(project, accounts):
    deployer, keeper, anyone = accounts[0], accounts[3], accounts[5]
    venue = project.MockVenue.deploy(WAD, DEPTH, sender=deployer)
    feed = project.MockAggregator.deploy(8, 10**8, sender=deployer)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(feed, DAY, sender=deployer)
    breaker = project.CircuitBreaker.deploy(sender=deployer)
    breaker.grantRole(breaker.KEEPER_ROLE(), keeper, sender=deployer)
    breaker.register_market(venue, oracle, P.as_array(P.resolve()), sender=deployer)
    return breaker, venue, feed, deployer, keeper, anyone


def _next_day(feed, deployer):
    """A new UTC day (fresh trip budget) with the feed updated so it is not stale."""
    chain.pending_timestamp += DAY
    feed.set_answer(10**8, sender=deployer)


def _end_halt(breaker, venue, anyone):
    """Recover the venue, wait out N, resume, and let cool-down and auction elapse."""
    venue.set_price(WAD, sender=anyone)
    venue.set_depth(DEPTH, sender=anyone)
    venue.set_slippage_bps(0, sender=anyone)
    chain.pending_timestamp += breaker.halt_window(0)
    breaker.arm_resume(0, sender=anyone)
    receipt = breaker.resume(0, sender=anyone)
    chain.pending_timestamp += breaker.params(0, P.BY_NAME["cooldown_s"].key) + breaker.params(
        0, P.BY_NAME["auction_s"].key
    )
    breaker.sync(0, sender=anyone)
    return receipt


def run(project, accounts) -> dict[str, float]:
    breaker, venue, feed, deployer, keeper, anyone = _deploy(project, accounts)
    spacing = 300 // 24

    # poke: the ring is pre-warmed at registration, so the first pass costs the same as later ones.
    first_pass, wrapped = [], []
    for i in range(32 + MIN_SAMPLES):
        chain.pending_timestamp += spacing
        receipt = breaker.poke(0, sender=anyone)
        (first_pass if i < 31 else wrapped).append(receipt.gas_used)
    _next_day(feed, deployer)
    daily = breaker.poke(0, sender=anyone).gas_used

    arm, trip_a, trip_b, resume = [], [], [], []
    for _ in range(MIN_SAMPLES):
        _next_day(feed, deployer)
        venue.set_price(90 * WAD // 100, sender=anyone)
        venue.set_depth(DEPTH // 10, sender=anyone)
        chain.mine(P.BY_NAME["hold_blocks"].default)  # the crash holds over rule A's hold
        arm.append(breaker.arm_trip(0, sender=anyone).gas_used)
        trip_a.append(breaker.trip(0, sender=anyone).gas_used)
        resume.append(_end_halt(breaker, venue, anyone).gas_used)

    for _ in range(MIN_SAMPLES):
        _next_day(feed, deployer)
        chain.pending_timestamp += spacing
        breaker.poke(0, sender=anyone)  # the window's high at 1.0
        venue.set_price(85 * WAD // 100, sender=anyone)
        venue.set_slippage_bps(800, sender=anyone)
        trip_b.append(breaker.trip_attested(0, 20_000, sender=keeper).gas_used)
        _end_halt(breaker, venue, anyone)

    return {
        "gas.breaker.arm": median(arm),
        "gas.breaker.trip_rule_a": median(trip_a),
        "gas.breaker.trip_rule_b": median(trip_b),
        "gas.breaker.poke": median(wrapped),
        "gas.breaker.poke_per_day_one_a_block": median(wrapped) * BLOCKS_PER_DAY,
        "gas.breaker.depth_samples_per_day": daily * DEPTH_SAMPLES_PER_DAY,
        "gas.breaker.poke_first_ring_pass": median(first_pass),
        "gas.breaker.poke_daily_depth_sample": daily,
        "gas.breaker.resume": median(resume),
    }
