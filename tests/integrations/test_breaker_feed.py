"""BreakerFeed: the underlying Chainlink feed in NORMAL, the breaker's frozen price while halted, in a round
that staleness checks (our ReferenceOracle's heartbeat among them) accept for the whole halt."""

from __future__ import annotations

import ape
import pytest
from ape import chain

from tests.helpers import advance

NORMAL, HALTED, COOLDOWN = 1, 2, 4


@pytest.fixture
def underlying(create_feed):
    return create_feed(1.0, 8)


@pytest.fixture
def market(breaker, venue, create_oracle, underlying, governance, params_array):
    breaker.register_market(venue, create_oracle([underlying]), params_array(), sender=governance)
    return breaker.market_count() - 1


@pytest.fixture
def feed(project, underlying, breaker, market, deployer, governance):
    feed = project.BreakerFeed.deploy(underlying, breaker, market, True, sender=deployer)
    feed.transfer_ownership(governance, sender=deployer)
    return feed


def test_normal__passes_the_underlying_through(feed, underlying, deployer):
    underlying.set_round(97_000_000, 1_700_000_000, 42, 41, sender=deployer)

    assert feed.latestRoundData() == (42, 97_000_000, 1_700_000_000, 1_700_000_000, 41)
    assert feed.latestAnswer() == 97_000_000
    assert (feed.latestTimestamp(), feed.latestRound(), feed.decimals(), feed.is_frozen()) == (
        1_700_000_000,
        42,
        8,
        False,
    )


def test_halted__serves_the_frozen_price_updated_now(feed, underlying, breaker, market, guardian, deployer):
    trip = breaker.guardian_trip(market, sender=guardian)
    underlying.set_answer(65_000_000, sender=deployer)  # the crash reaches the feed
    round_id = underlying.round_id()

    advance(600)
    round_data = feed.latestRoundData()

    now = chain.blocks.head.timestamp
    assert round_data == (round_id, 100_000_000, trip.timestamp, now, round_id)
    assert feed.latestAnswer() == 100_000_000
    assert feed.getRoundData(round_id) == round_data
    assert feed.is_frozen()


def test_halted__frozen_round_passes_a_heartbeat_check_all_halt_long(
    feed, breaker, market, guardian, create_oracle
):
    """Our own ReferenceOracle drops a feed older than its heartbeat; the frozen round never is."""
    checker = create_oracle([feed], heartbeat=3_600)
    breaker.guardian_trip(market, sender=guardian)

    advance(3 * 3_600)

    assert breaker.state(market) == HALTED
    assert checker.latest() == (10**18, 1)


@pytest.mark.parametrize("frozen_in_grace, answer", [(True, 100_000_000), (False, 65_000_000)])
def test_cooldown__frozen_only_when_governance_says(
    feed, underlying, breaker, market, guardian, governance, deployer, frozen_in_grace, answer
):
    feed.set_frozen_in_grace(frozen_in_grace, sender=governance)
    breaker.guardian_trip(market, sender=guardian)
    underlying.set_answer(65_000_000, sender=deployer)

    breaker.force_resume(market, sender=governance)

    assert breaker.state(market) == COOLDOWN
    assert feed.latestAnswer() == answer


def test_back_to_normal_by_time__live_without_a_sync(
    feed, underlying, breaker, market, guardian, governance, deployer
):
    breaker.guardian_trip(market, sender=guardian)
    breaker.force_resume(market, sender=governance)
    advance(2 * 1_800 + 1)  # past the longest cool-down and auction
    underlying.set_answer(99_000_000, sender=deployer)

    assert breaker.status(market).state == COOLDOWN  # nobody stored the transitions
    assert breaker.state(market) == NORMAL
    assert feed.latestAnswer() == 99_000_000


def test_set_frozen_in_grace__logs_the_change(feed, governance):
    receipt = feed.set_frozen_in_grace(False, sender=governance)

    assert [(e.actor, e.old, e.new) for e in feed.FrozenInGraceSet.from_receipt(receipt)] == [
        (governance.address, True, False)
    ]
    assert not feed.frozen_in_grace()


def test_set_frozen_in_grace__not_owner_reverts(feed, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        feed.set_frozen_in_grace(False, sender=anyone)


def test_deploy__feed_quoting_another_unit_reverts(project, create_feed, breaker, market, deployer):
    other_unit = create_feed(1.2, 8)  # 20 % away from the market's reference
    with ape.reverts("BreakerFeed: underlying and market reference disagree"):
        project.BreakerFeed.deploy(other_unit, breaker, market, True, sender=deployer)


def test_deploy__more_than_18_decimals_reverts(project, create_feed, breaker, market, deployer):
    with ape.reverts("BreakerFeed: underlying decimals above 18"):
        project.BreakerFeed.deploy(create_feed(1.0, 19), breaker, market, True, sender=deployer)


def test_deploy__unknown_market_reverts(project, underlying, breaker, market, deployer):
    with ape.reverts("BreakerFeed: unknown market"):
        project.BreakerFeed.deploy(underlying, breaker, market + 1, True, sender=deployer)


def test_halted__18_decimal_underlying_serves_the_frozen_price_unscaled(
    project, create_feed, breaker, venue, create_oracle, governance, guardian, deployer, params_array
):
    underlying = create_feed(0.9998, 18)
    breaker.register_market(venue, create_oracle([underlying]), params_array(), sender=governance)
    market = breaker.market_count() - 1
    feed = project.BreakerFeed.deploy(underlying, breaker, market, True, sender=deployer)

    breaker.guardian_trip(market, sender=guardian)
    underlying.set_answer(10**17, sender=deployer)

    assert feed.latestAnswer() == 999_800_000_000_000_000
