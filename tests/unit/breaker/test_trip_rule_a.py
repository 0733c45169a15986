"""Rule A: CVD and R_L, armed in one block and confirmed in a later one, by anyone."""

import ape
import pytest

from tests.conftest import DEPTH, HALTED, NORMAL, WAD


def crash(venue, price=0.90, depth_ratio=0.10, sender=None):
    venue.set_price(int(price * WAD), sender=sender)
    venue.set_depth(int(DEPTH * depth_ratio), sender=sender)


def test_trip__cvd_and_depth_hold(breaker, market_id, venue, anyone, oracle):
    crash(venue, sender=anyone)
    breaker.arm_trip(market_id, sender=anyone)
    receipt = breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == HALTED
    [event] = receipt.decode_logs(breaker.MarketTripped)
    assert event.market_id == market_id
    assert event.actor == anyone
    assert event.reason == breaker.REASON_RULE_A()
    assert event.cvd_bps == 1000
    assert event.rl_bps == 1000
    assert event.frozen_price == WAD
    assert breaker.frozen_price(market_id) == WAD


def test_trip__without_arm_reverts(breaker, market_id, venue, anyone):
    crash(venue, sender=anyone)
    with ape.reverts("CircuitBreaker: not armed"):
        breaker.trip(market_id, sender=anyone)
    assert breaker.state(market_id) == NORMAL
