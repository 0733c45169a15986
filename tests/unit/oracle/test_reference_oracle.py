"""ReferenceOracle: median of Chainlink-style feeds, each with its own heartbeat, and a quorum."""

import ape
import pytest

from tests.helpers import WAD, advance


@pytest.fixture
def three_feeds(create_feed):
    return [create_feed(1.00, 8), create_feed(0.98, 18), create_feed(1.02, 6)]


def test_price__median_of_mixed_decimals(create_oracle, three_feeds):
    oracle = create_oracle(three_feeds, quorum=2)
    assert oracle.price() == WAD
    assert oracle.latest() == (WAD, 3)


def test_price__even_count_takes_mean_of_middle(create_oracle, create_feed):
    oracle = create_oracle([create_feed(1.0), create_feed(0.9)], quorum=2)
    assert oracle.price() == 95 * WAD // 100


@pytest.mark.parametrize(
    "fault, status, reason",
    [
        ("zero", 1, "non-positive 1"),
        ("negative", 1, "non-positive 1"),
        ("incomplete", 2, "incomplete 1"),
        ("stale", 3, "stale 1"),
        ("future", 3, "stale 1"),
        ("broken", 4, "failed 1"),
    ],
)
@pytest.mark.threat
def test_price__faulty_feed_skipped(create_oracle, three_feeds, anyone, fault, status, reason):
    oracle = create_oracle(three_feeds, quorum=2)
    bad = three_feeds[2]
    now = ape.chain.pending_timestamp
    if fault == "zero":
        bad.set_answer(0, sender=anyone)
    elif fault == "negative":
        bad.set_answer(-5, sender=anyone)
    elif fault == "incomplete":
        bad.set_round(102 * 10**4, now, 9, 8, sender=anyone)
    elif fault == "stale":
        bad.set_round(102 * 10**4, now - 3_601, 9, 9, sender=anyone)
    elif fault == "future":
        bad.set_round(102 * 10**4, now + 600, 9, 9, sender=anyone)
    else:
        bad.set_broken(True, sender=anyone)
    assert oracle.feed_status(2)[1] == status
    assert oracle.latest() == (99 * WAD // 100, 2)  # median of the two valid feeds
    oracle.set_quorum(3, sender=ape.accounts.test_accounts[1])
    with ape.reverts(f"ReferenceOracle: below quorum, 2 of 3 feeds valid ({_reasons(reason)})"):
        oracle.price()
    assert oracle.latest() == (0, 2)


def _reasons(only: str) -> str:
    counts = {"stale": 0, "non-positive": 0, "incomplete": 0, "failed": 0}
    name = only.rsplit(" ", 1)[0]
    counts[name] = 1
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def test_price__at_heartbeat_is_fresh(create_oracle, create_feed):
    feed = create_feed()
    oracle = create_oracle([feed], heartbeat=3_600)
    ape.chain.pending_timestamp = feed.updated_at() + 3_600
    ape.chain.mine()
    assert oracle.price() == WAD
    advance(1)
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 1 feeds valid (stale 1, non-positive 0, incomplete 0, failed 0)"
    ):
        oracle.price()


@pytest.mark.threat
def test_price__each_feed_has_its_own_heartbeat(create_oracle, create_feed, project, deployer, governance):
    fast, slow = create_feed(1.0), create_feed(1.0)
    oracle = project.ReferenceOracle.deploy(2, sender=deployer)
    oracle.add_feed(fast, 60, sender=deployer)
    oracle.add_feed(slow, 86_400, sender=deployer)
    advance(61)
    assert oracle.latest() == (0, 1)
    assert [oracle.feed_status(i)[1] for i in range(2)] == [3, 0]


def test_add_feed__event_and_bounds(project, deployer, create_feed, anyone):
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    feed = create_feed(1.0, 8)
    receipt = oracle.add_feed(feed, 3_600, sender=deployer)
    [event] = receipt.decode_logs(oracle.FeedAdded)
    assert (event.aggregator, event.heartbeat, event.decimals) == (feed.address, 3_600, 8)
    with ape.reverts("ReferenceOracle: feed already added"):
        oracle.add_feed(feed, 3_600, sender=deployer)
    with ape.reverts("ReferenceOracle: heartbeat out of bounds"):
        oracle.add_feed(create_feed(), 59, sender=deployer)
    with ape.reverts("ReferenceOracle: heartbeat out of bounds"):
        oracle.add_feed(create_feed(), 172_801, sender=deployer)
    with ape.reverts("ReferenceOracle: feed is not a contract"):
        oracle.add_feed(anyone, 3_600, sender=deployer)
    with ape.reverts("ownable: caller is not the owner"):
        oracle.add_feed(create_feed(), 3_600, sender=anyone)


def test_add_feed__more_than_seven_reverts(project, deployer, create_feed):
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    for _ in range(7):
        oracle.add_feed(create_feed(), 3_600, sender=deployer)
    with ape.reverts("ReferenceOracle: too many feeds"):
        oracle.add_feed(create_feed(), 3_600, sender=deployer)


def test_remove_feed__keeps_others(create_oracle, three_feeds, governance, anyone):
    oracle = create_oracle(three_feeds, quorum=1)
    receipt = oracle.remove_feed(three_feeds[0], sender=governance)
    assert receipt.decode_logs(oracle.FeedRemoved)[0].aggregator == three_feeds[0].address
    assert oracle.feed_count() == 2
    assert oracle.price() == WAD  # mean of 0.98 and 1.02
    with ape.reverts("ReferenceOracle: unknown feed"):
        oracle.remove_feed(three_feeds[0], sender=governance)
    with ape.reverts("ownable: caller is not the owner"):
        oracle.remove_feed(three_feeds[1], sender=anyone)


def test_set_heartbeat__logs_old_and_new(create_oracle, feed, governance, anyone):
    oracle = create_oracle([feed], heartbeat=3_600)
    receipt = oracle.set_heartbeat(feed, 7_200, sender=governance)
    [event] = receipt.decode_logs(oracle.HeartbeatSet)
    assert (event.aggregator, event.old, event.new) == (feed.address, 3_600, 7_200)
    with ape.reverts("ReferenceOracle: unknown feed"):
        oracle.set_heartbeat(anyone, 7_200, sender=governance)
    with ape.reverts("ReferenceOracle: heartbeat out of bounds"):
        oracle.set_heartbeat(feed, 10, sender=governance)
    with ape.reverts("ownable: caller is not the owner"):
        oracle.set_heartbeat(feed, 7_200, sender=anyone)


def test_set_quorum__logs_old_and_new(create_oracle, feed, governance, anyone):
    oracle = create_oracle([feed], quorum=1)
    receipt = oracle.set_quorum(2, sender=governance)
    [event] = receipt.decode_logs(oracle.QuorumSet)
    assert (event.old, event.new) == (1, 2)
    with ape.reverts("ReferenceOracle: quorum out of bounds"):
        oracle.set_quorum(0, sender=governance)
    with ape.reverts("ReferenceOracle: quorum out of bounds"):
        oracle.set_quorum(8, sender=governance)
    with ape.reverts("ownable: caller is not the owner"):
        oracle.set_quorum(1, sender=anyone)


def test_deploy__quorum_out_of_bounds_reverts(project, deployer):
    with ape.reverts("ReferenceOracle: quorum out of bounds"):
        project.ReferenceOracle.deploy(0, sender=deployer)


@pytest.mark.threat
def test_price__no_feeds_reverts(project, deployer):
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    with ape.reverts(
        "ReferenceOracle: below quorum, 0 of 1 feeds valid (stale 0, non-positive 0, incomplete 0, failed 0)"
    ):
        oracle.price()
