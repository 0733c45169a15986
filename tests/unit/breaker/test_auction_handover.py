"""The breaker's side of the auction hand-over: governance names a market's auction, and only that
auction settles the AUCTION phase into NORMAL (a mock consumer stands in for a ReopeningAuction)."""

import ape
import pytest

from tests.constants import AUCTION, COOLDOWN, NORMAL, ZERO_ADDRESS


@pytest.fixture
def auction(project, deployer):
    """Any contract can be named a market's auction; a mock consumer stands in for one."""
    return project.MockConsumer.deploy(sender=deployer)


@pytest.fixture
def in_auction(breaker, market_id, governance, auction, guardian_halted):
    """The market's auction is set and the cool-down is over (not yet stored)."""
    breaker.set_auction(market_id, auction, sender=governance)
    resumed = breaker.force_resume(market_id, sender=governance)
    ape.chain.pending_timestamp = resumed.timestamp + 180
    return resumed


def test_set_auction__logs_old_and_new(breaker, market_id, governance, auction):
    receipt = breaker.set_auction(market_id, auction, sender=governance)
    assert receipt.decode_logs(breaker.AuctionSet) == [
        breaker.AuctionSet(market_id=market_id, old=ZERO_ADDRESS, new=auction.address, actor=governance)
    ]
    receipt = breaker.set_auction(market_id, ZERO_ADDRESS, sender=governance)
    assert receipt.decode_logs(breaker.AuctionSet) == [
        breaker.AuctionSet(market_id=market_id, old=auction.address, new=ZERO_ADDRESS, actor=governance)
    ]
    assert breaker.auction_of(market_id) == ZERO_ADDRESS


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
