"""Fixtures of the breaker's unit tests."""

import pytest


@pytest.fixture
def guardian_halted(breaker, market_id, guardian):
    """The market halted by the guardian: (status after the trip, the trip's receipt)."""
    receipt = breaker.guardian_trip(market_id, sender=guardian)
    return breaker.status(market_id), receipt
