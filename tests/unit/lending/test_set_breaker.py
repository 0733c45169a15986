"""LendingMarket.set_breaker: refused while the old breaker still pushes to the market, so that
switching can never make the old breaker market's transitions revert for its other consumers."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.constants import COOLDOWN, HALTED, NORMAL

STILL_LISTED = "LendingMarket: still a consumer of the old breaker market, remove it there first"


@pytest.mark.threat
def test_set_breaker__while_listed_by_old_breaker_reverts(
    market, breaker, market_id, create_breaker, governance
):
    new_breaker = create_breaker()
    with ape.reverts(STILL_LISTED):
        market.set_breaker(new_breaker, 0, sender=governance)
    with ape.reverts(STILL_LISTED):
        market.set_breaker(ZERO_ADDRESS, 0, sender=governance)
    with ape.reverts(STILL_LISTED):
        market.set_breaker(breaker, market_id + 1, sender=governance)  # another market of the same breaker
    assert market.breaker() == breaker
    assert market.breaker_market_id() == market_id


@pytest.mark.threat
def test_set_breaker__old_breaker_transitions_still_work(
    market, breaker, market_id, create_breaker, governance, guardian
):
    """Re-pointed the only way it is allowed (consumer removed first): the old market trips and
    resumes as before, and the market no longer hears of it."""
    new_breaker = create_breaker()
    breaker.remove_consumer(market_id, market, sender=governance)
    market.set_breaker(new_breaker, 0, sender=governance)
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == HALTED
    assert not receipt.events.filter(market.BreakerStateReceived)
    breaker.force_resume(market_id, sender=governance)
    assert breaker.state(market_id) == COOLDOWN
    assert market.breaker_state() == NORMAL


def test_set_breaker__after_remove_consumer_logs_switch(
    market, breaker, market_id, create_breaker, governance
):
    new_breaker = create_breaker()
    breaker.remove_consumer(market_id, market, sender=governance)
    receipt = market.set_breaker(new_breaker, 3, sender=governance)
    assert receipt.events == [
        market.BreakerSet(
            actor=governance,
            old_breaker=breaker,
            new_breaker=new_breaker,
            old_market_id=market_id,
            new_market_id=3,
        )
    ]
    assert (market.breaker(), market.breaker_market_id()) == (new_breaker, 3)


@pytest.mark.threat
def test_set_breaker__old_breaker_without_consumers_view_does_not_block(
    market, breaker, chain, governance, borrow_token
):
    """A broken old breaker (its code replaced by a token's) cannot keep the market attached."""
    chain.provider.set_code(breaker.address, chain.provider.get_code(borrow_token.address))
    market.set_breaker(ZERO_ADDRESS, 0, sender=governance)
    assert market.breaker() == ZERO_ADDRESS


def test_set_breaker__unguarded_market_attaches(unguarded_market, create_breaker, governance):
    new_breaker = create_breaker()
    unguarded_market.set_breaker(new_breaker, 0, sender=governance)
    assert unguarded_market.breaker() == new_breaker
