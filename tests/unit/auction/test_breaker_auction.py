"""CircuitBreaker additions: a market's auction (governance), and AUCTION -> NORMAL when it settles
(REASON_AUCTION_SETTLED); without a settlement the phase still elapses by time."""

import ape
import pytest

from tests.constants import AUCTION, COOLDOWN, NORMAL, ZERO_ADDRESS
from tests.helpers import advance


def test_set_auction__governance_logs_old_and_new(breaker, market, auction, governance):
    receipt = breaker.set_auction(market, ZERO_ADDRESS, sender=governance)
    assert receipt.decode_logs(breaker.AuctionSet) == [
        breaker.AuctionSet(market_id=market, old=auction, new=ZERO_ADDRESS, actor=governance)
    ]
    assert breaker.auction_of(market) == ZERO_ADDRESS


def test_set_auction__not_governance_reverts(breaker, market, auction, guardian):
    with ape.reverts("access_control: account is missing role"):
        breaker.set_auction(market, auction, sender=guardian)


def test_set_auction__not_a_contract_reverts(breaker, market, governance, anyone):
    with ape.reverts("CircuitBreaker: auction is not a contract"):
        breaker.set_auction(market, anyone, sender=governance)


def test_set_auction__unknown_market_reverts(breaker, auction, governance):
    with ape.reverts("CircuitBreaker: unknown market"):
        breaker.set_auction(breaker.market_count(), auction, sender=governance)


def test_settle_auction__by_the_auction_reopens_and_notifies(breaker, market, pool, phases, as_auction):
    phases.cooldown()
    phases.auction()
    receipt = breaker.settle_auction(market, sender=as_auction)
    advanced = receipt.decode_logs(breaker.StateAdvanced)
    assert [(e.reason, e.old_state, e.new_state, e.actor) for e in advanced] == [
        (breaker.REASON_COOLDOWN_ELAPSED(), COOLDOWN, AUCTION, as_auction.address),
        (breaker.REASON_AUCTION_SETTLED(), AUCTION, NORMAL, as_auction.address),
    ]
    assert breaker.state(market) == NORMAL and pool.breaker_state() == NORMAL
    assert breaker.status(market).since == receipt.timestamp
    # Without the auction's own trade in the same transaction, the band centre is stale.
    assert pool.band().updated_at == 0


def test_settle_auction__not_the_auction_reverts(breaker, market, phases, anyone):
    phases.cooldown()
    phases.auction()
    with ape.reverts("CircuitBreaker: caller is not the market's auction"):
        breaker.settle_auction(market, sender=anyone)


def test_settle_auction__no_auction_set_reverts(breaker, market, phases, governance, as_auction):
    breaker.set_auction(market, ZERO_ADDRESS, sender=governance)
    phases.cooldown()
    phases.auction()
    with ape.reverts("CircuitBreaker: caller is not the market's auction"):
        breaker.settle_auction(market, sender=as_auction)


def test_settle_auction__in_cooldown_reverts(breaker, market, phases, as_auction):
    phases.cooldown()
    with ape.reverts("CircuitBreaker: market is not in auction"):
        breaker.settle_auction(market, sender=as_auction)


@pytest.mark.threat
def test_sync__auction_set_but_unsettled_still_elapses_by_time(breaker, market, auction, phases, anyone):
    phases.cooldown()
    advance(breaker.params(market, breaker.P_COOLDOWN_S()) + breaker.params(market, breaker.P_AUCTION_S()))
    receipt = breaker.sync(market, sender=anyone)
    assert [e.reason for e in receipt.decode_logs(breaker.StateAdvanced)] == [
        breaker.REASON_COOLDOWN_ELAPSED(),
        breaker.REASON_AUCTION_ELAPSED(),
    ]
    assert breaker.state(market) == NORMAL
