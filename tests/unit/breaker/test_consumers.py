"""Consumers: told every stored transition; cannot be bypassed or re-enter."""

import ape
import pytest

from tests.constants import COOLDOWN, HALTED, NORMAL
from tests.helpers import WAD, advance


@pytest.fixture
def consumer(project, breaker, market_id, governance, deployer):
    c = project.MockConsumer.deploy(sender=deployer)
    breaker.add_consumer(market_id, c, sender=governance)
    return c


def test_add_consumer__told_current_state(breaker, market_id, consumer, governance):
    assert consumer.last_state() == NORMAL
    assert consumer.last_frozen_price() == WAD
    assert list(breaker.consumers(market_id)) == [consumer.address]


def test_add_consumer__event(project, breaker, market_id, governance, deployer):
    c = project.MockConsumer.deploy(sender=deployer)
    receipt = breaker.add_consumer(market_id, c, sender=governance)
    [event] = receipt.decode_logs(breaker.ConsumerAdded)
    assert (event.market_id, event.consumer, event.actor) == (market_id, c.address, governance)


def test_add_consumer__twice_reverts(breaker, market_id, consumer, governance):
    with ape.reverts("CircuitBreaker: consumer already added"):
        breaker.add_consumer(market_id, consumer, sender=governance)


def test_add_consumer__not_a_contract_reverts(breaker, market_id, governance, anyone):
    with ape.reverts("CircuitBreaker: consumer is not a contract"):
        breaker.add_consumer(market_id, anyone, sender=governance)


def test_add_consumer__more_than_eight_reverts(project, breaker, market_id, governance, deployer):
    for _ in range(8):
        breaker.add_consumer(market_id, project.MockConsumer.deploy(sender=deployer), sender=governance)
    with ape.reverts("CircuitBreaker: too many consumers"):
        breaker.add_consumer(market_id, project.MockConsumer.deploy(sender=deployer), sender=governance)


def test_trip__notifies_consumer(breaker, market_id, consumer, guardian):
    breaker.guardian_trip(market_id, sender=guardian)
    assert (consumer.last_state(), consumer.last_frozen_price()) == (HALTED, WAD)


def test_sync__notifies_consumer_of_time_transitions(breaker, market_id, consumer, guardian, anyone):
    breaker.guardian_trip(market_id, sender=guardian)
    advance(14_400)
    assert consumer.last_state() == HALTED  # stale cache is on the safe side
    breaker.sync(market_id, sender=anyone)
    assert consumer.last_state() == COOLDOWN


@pytest.mark.threat
def test_trip__reverting_consumer_reverts_trip(breaker, market_id, consumer, guardian, anyone):
    """A consumer can never be left believing NORMAL while the market is halted."""
    consumer.set_reverting(True, sender=anyone)
    with ape.reverts("MockConsumer: refusing notification"):
        breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == NORMAL


@pytest.mark.threat
def test_trip__consumer_reentry_blocked(breaker, market_id, consumer, guardian, anyone):
    calldata = breaker.sync.encode_input(market_id)
    consumer.set_reenter(breaker, calldata, sender=anyone)
    with ape.reverts():
        breaker.guardian_trip(market_id, sender=guardian)
    assert breaker.state(market_id) == NORMAL


def test_remove_consumer__stops_notifications(breaker, market_id, consumer, governance, guardian):
    receipt = breaker.remove_consumer(market_id, consumer, sender=governance)
    assert receipt.decode_logs(breaker.ConsumerRemoved)[0].consumer == consumer.address
    breaker.guardian_trip(market_id, sender=guardian)
    assert consumer.last_state() == NORMAL


def test_remove_consumer__unknown_reverts(breaker, market_id, governance, anyone):
    with ape.reverts("CircuitBreaker: unknown consumer"):
        breaker.remove_consumer(market_id, anyone, sender=governance)
