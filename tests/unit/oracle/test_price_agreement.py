"""ReferenceOracle: one bad feed is outvoted or fails the price closed, never averaged in; a feed whose
round id does not fit uint80 is skipped, not fatal."""

from pathlib import Path

import ape
import pytest

from deployment.system import load_config
from tests.helpers import WAD

LOCAL = Path(__file__).resolve().parents[3] / "config" / "local.yaml"


@pytest.fixture
def shipped_oracle(project, deployer, governance, create_feed):
    """An oracle with the quorum, spread and feed count of config/local.yaml's market, feeds at 1.0."""
    spec = load_config(LOCAL).markets[0].oracle
    feeds = [create_feed(1.0) for _ in spec.feeds]
    oracle = project.ReferenceOracle.deploy(spec.quorum, sender=deployer)
    for feed in feeds:
        oracle.add_feed(feed, 3_600, sender=deployer)
    oracle.set_max_spread_bps(spec.max_spread_bps, sender=deployer)
    oracle.transfer_ownership(governance, sender=deployer)
    return oracle, feeds


@pytest.mark.threat
def test_price__two_feeds_far_apart_are_invalid_under_shipped_config(shipped_oracle, anyone):
    """0.65 next to 1.0 with the third feed down: not their mean 0.825, but no price at all."""
    oracle, feeds = shipped_oracle
    feeds[0].set_answer(65 * 10**6, sender=anyone)
    for feed in feeds[2:]:
        feed.set_broken(True, sender=anyone)
    assert oracle.latest() == (0, 0)
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 2 valid feeds within 200 bps of their median (quorum 2)"
    ):
        oracle.price()


@pytest.mark.threat
def test_price__one_bad_feed_is_outvoted_under_shipped_config(shipped_oracle, anyone):
    oracle, feeds = shipped_oracle
    feeds[0].set_answer(65 * 10**6, sender=anyone)
    assert oracle.price() == WAD
    assert oracle.latest() == (WAD, len(feeds) - 1)


def test_price__outlier_has_no_vote(create_oracle, create_feed, governance):
    """The price is the median of the feeds that agree: 1.00 and 1.01 count, 0.65 does not."""
    oracle = create_oracle([create_feed(0.65), create_feed(1.0), create_feed(1.01)], quorum=2)
    oracle.set_max_spread_bps(200, sender=governance)
    assert oracle.latest() == (1_005 * WAD // 1_000, 2)


def test_price__two_feeds_within_spread_give_their_mean(create_oracle, create_feed, governance):
    oracle = create_oracle([create_feed(1.0), create_feed(0.99)], quorum=2)
    oracle.set_max_spread_bps(100, sender=governance)
    assert oracle.price() == 995 * WAD // 1_000  # each 0.5% from the mean


def test_price__two_feeds_past_spread_revert(create_oracle, create_feed, governance):
    oracle = create_oracle([create_feed(1.0), create_feed(0.98)], quorum=2)
    oracle.set_max_spread_bps(100, sender=governance)  # each 1.01% from their mean 0.99
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 2 valid feeds within 100 bps of their median (quorum 2)"
    ):
        oracle.price()
    assert oracle.latest() == (0, 0)


def test_price__spread_at_the_bound_counts(create_oracle, create_feed, governance):
    """Exactly max_spread_bps from the median still counts (<=)."""
    oracle = create_oracle([create_feed(1.0), create_feed(1.02), create_feed(0.98)], quorum=3)
    oracle.set_max_spread_bps(200, sender=governance)
    assert oracle.latest() == (WAD, 3)
    oracle.set_max_spread_bps(199, sender=governance)
    assert oracle.latest() == (0, 1)


@pytest.mark.threat
def test_price__round_id_above_uint80_is_skipped_as_failed(project, deployer, create_oracle, create_feed):
    """A feed whose round id does not fit uint80 counts as failed; the others still answer."""
    wide = project.MockWideRoundAggregator.deploy(8, 5 * 10**7, 2**80, sender=deployer)
    oracle = create_oracle([create_feed(1.0), create_feed(1.0), wide], quorum=2)
    assert oracle.feed_status(2) == (0, oracle.FEED_CALL_FAILED())
    assert oracle.latest() == (WAD, 2)
    assert oracle.price() == WAD


def test_price__round_id_above_uint80_below_quorum_names_it_failed(project, deployer, create_oracle):
    wide = project.MockWideRoundAggregator.deploy(8, 10**8, 2**255, sender=deployer)
    oracle = create_oracle([wide], quorum=1)
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 1 feeds valid (stale 0, non-positive 0, incomplete 0, failed 1)"
    ):
        oracle.price()


def test_price__largest_uint80_round_id_is_read(project, deployer, create_oracle):
    wide = project.MockWideRoundAggregator.deploy(8, 10**8, 2**80 - 1, sender=deployer)
    oracle = create_oracle([wide], quorum=1)
    assert oracle.price() == WAD
