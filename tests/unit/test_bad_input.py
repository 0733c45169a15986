"""Bad input to the CircuitBreaker and the ReferenceOracle: unknown ids, huge and zero values, venues and
feeds that answer nonsense, wrong decimals. Each reverts with a reason naming what is wrong, or is
skipped as the contract documents. Gaps are marked xfail with the behaviour they should have."""

import ape
import pytest

from tests.helpers import DEPTH, WAD, trip_rule_a

pytestmark = pytest.mark.bad_input

MAX = 2**256 - 1
MAX_INT256 = 2**255 - 1


@pytest.mark.parametrize(
    "price, depth, reason",
    [
        (0, DEPTH, "CircuitBreaker: venue has no price"),
        (2**128, DEPTH, "CircuitBreaker: venue price out of range"),
        (MAX, DEPTH, "CircuitBreaker: venue price out of range"),
        (WAD, 0, "CircuitBreaker: venue has no depth"),
    ],
)
def test_register_market__venue_answering_nonsense_reverts(
    project, breaker, oracle, governance, anyone, params_array, price, depth, reason
):
    venue = project.MockVenue.deploy(price, depth, sender=anyone)
    count = breaker.market_count()
    with ape.reverts(reason):
        breaker.register_market(venue, oracle, params_array(), sender=governance)
    assert breaker.market_count() == count


@pytest.mark.parametrize("key, value", [(0, 0), (0, MAX), (5, 10**30 + 1), (16, MAX), (17, 0)])
def test_register_market__parameter_zero_or_huge_reverts(
    breaker, venue, oracle, governance, params_array, key, value
):
    values = params_array()
    values[key] = value
    with ape.reverts(f"CircuitBreaker: parameter {key} out of bounds"):
        breaker.register_market(venue, oracle, values, sender=governance)


@pytest.mark.parametrize(
    "key, value, reason",
    [
        (0, MAX, "CircuitBreaker: parameter 0 out of bounds"),
        (13, 0, "CircuitBreaker: parameter 13 out of bounds"),
        (19, 1, "CircuitBreaker: unknown parameter"),
        (MAX, 1, "CircuitBreaker: unknown parameter"),
    ],
)
def test_set_param__zero_huge_or_unknown_reverts(breaker, market_id, governance, key, value, reason):
    with ape.reverts(reason):
        breaker.set_param(market_id, key, value, sender=governance)


@pytest.mark.parametrize(
    "call, role",
    [
        ("arm_trip", "anyone"),
        ("trip", "anyone"),
        ("arm_resume", "anyone"),
        ("resume", "anyone"),
        ("sync", "anyone"),
        ("poke", "anyone"),
        ("guardian_trip", "guardian"),
        ("force_resume", "governance"),
    ],
)
@pytest.mark.parametrize("market", ["next", MAX])
def test_market_id__unknown_reverts(breaker, market_id, anyone, guardian, governance, call, role, market):
    sender = {"anyone": anyone, "guardian": guardian, "governance": governance}[role]
    market = breaker.market_count() if market == "next" else market
    with ape.reverts("CircuitBreaker: unknown market"):
        getattr(breaker, call)(market, sender=sender)


@pytest.mark.parametrize("duration", [0, 86_401, MAX])
def test_guardian_extend__zero_or_huge_duration_reverts(breaker, market_id, guardian, duration):
    breaker.guardian_trip(market_id, sender=guardian)
    with ape.reverts("CircuitBreaker: duration out of bounds"):
        breaker.guardian_extend(market_id, duration, sender=guardian)


@pytest.mark.parametrize("lce", [0, 9_999])
def test_extend_halt__attested_lce_below_critical_reverts(breaker, market_id, guardian, keeper, lce):
    breaker.guardian_trip(market_id, sender=guardian)
    with ape.reverts("CircuitBreaker: attested LCE below critical"):
        breaker.extend_halt(market_id, lce, sender=keeper)


def test_extend_halt__huge_attested_lce_still_bounded_by_max_halt(breaker, market_id, venue, anyone, keeper):
    trip_rule_a(breaker, market_id, venue, anyone)
    lapse = breaker.status(market_id).lapse_at
    breaker.extend_halt(market_id, MAX, sender=keeper)
    assert breaker.status(market_id).resume_after <= lapse


# ---------------------------------------------------------------- the reference oracle


@pytest.mark.parametrize("decimals", [37, 255])
def test_add_feed__wrong_decimals_reverts(project, deployer, anyone, decimals):
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    feed = project.MockAggregator.deploy(decimals, 1, sender=anyone)
    with ape.reverts("ReferenceOracle: feed decimals out of bounds"):
        oracle.add_feed(feed, 3_600, sender=deployer)


@pytest.mark.parametrize("quorum", [0, 8, MAX])
def test_deploy__quorum_zero_or_huge_reverts(project, deployer, quorum):
    with ape.reverts("ReferenceOracle: quorum out of bounds"):
        project.ReferenceOracle.deploy(quorum, sender=deployer)


@pytest.mark.parametrize("heartbeat", [0, MAX])
def test_set_heartbeat__zero_or_huge_reverts(oracle, feed, governance, heartbeat):
    with ape.reverts("ReferenceOracle: heartbeat out of bounds"):
        oracle.set_heartbeat(feed, heartbeat, sender=governance)


@pytest.mark.parametrize("answer", [0, -1, -MAX_INT256])
@pytest.mark.threat
def test_price__non_positive_feed_among_good_ones_is_skipped(create_feed, create_oracle, deployer, answer):
    bad = create_feed()
    oracle = create_oracle([create_feed(1.0), create_feed(1.0), bad], quorum=2)
    bad.set_answer(answer, sender=deployer)
    assert oracle.latest() == (WAD, 2) and oracle.price() == WAD


@pytest.mark.threat
def test_price__absurd_answer_from_one_feed_is_skipped(create_feed, create_oracle, deployer):
    bad = create_feed()
    oracle = create_oracle([create_feed(1.0), create_feed(1.0), bad], quorum=2)
    bad.set_answer(MAX_INT256, sender=deployer)
    assert oracle.latest() == (WAD, 2) and oracle.price() == WAD
    assert oracle.feed_status(2) == (0, oracle.FEED_NON_POSITIVE())


@pytest.mark.threat
def test_price__answer_just_above_max_price_is_skipped(create_feed, create_oracle, deployer):
    bad = create_feed()  # 8 decimals
    oracle = create_oracle([create_feed(1.0), create_feed(1.0), bad], quorum=3)
    limit = oracle.MAX_PRICE() * 10**8 // WAD
    bad.set_answer(limit, sender=deployer)
    assert oracle.feed_status(2) == (limit * WAD // 10**8, 0)
    bad.set_answer(limit + 1, sender=deployer)
    assert oracle.feed_status(2) == (0, oracle.FEED_NON_POSITIVE())
    with ape.reverts(
        "ReferenceOracle: below quorum, 2 of 3 feeds valid (stale 0, non-positive 1, incomplete 0, failed 0)"
    ):
        oracle.price()


@pytest.mark.threat
def test_guardian_trip__works_with_an_absurd_feed_answer(
    project, breaker, venue, governance, guardian, create_feed, create_oracle, deployer, params_array
):
    bad = create_feed()
    oracle = create_oracle([create_feed(1.0), bad], quorum=1)
    market = breaker.register_market(venue, oracle, params_array(), sender=governance).return_value
    bad.set_answer(MAX_INT256, sender=deployer)
    breaker.guardian_trip(market, sender=guardian)
    assert breaker.state(market) == 2
