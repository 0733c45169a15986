"""On-chain source: the breaker's state, status, indicators and parameters, and the venue's depth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keeper.chain import BreakerReader
from keeper.sources.base import Observations


class OnChainSource:
    name = "chain"

    def __init__(self, reader: BreakerReader) -> None:
        self.reader = reader
        self.head: dict[str, Any] = {}

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        """Raises when the chain cannot be read: without it the keeper must not act."""
        self.head, markets = self.reader.snapshot(market_ids)
        return {mid: Observations(chain=m) for mid, m in markets.items()}
