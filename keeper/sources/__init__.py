"""Sources collect; the policy decides; the executor sends.

Every backend implements `Source.collect(market_ids, now) -> {market id: Observations}`:
`OnChainSource` (breaker status, indicators, parameters, venue depth), `CcxtSource` (CEX order
books, tickers, open interest), `ReplaySource` (a scenario's series, SCENARIOS.md),
`PositionsFileSource` (lending positions from a CSV) and `LendingEventsSource` (lending positions
rebuilt from a LendingMarket's events). The runner merges what they return.
"""

from keeper.sources.base import Observations, Source, merge
from keeper.sources.cex import CcxtSource, RecordedExchange, make_exchange
from keeper.sources.lending import LendingEventsSource, LendingMarketConfig
from keeper.sources.onchain import OnChainSource
from keeper.sources.positions import PositionsFileSource, load_positions
from keeper.sources.replay import ReplaySource, Series

__all__ = [
    "CcxtSource",
    "LendingEventsSource",
    "LendingMarketConfig",
    "Observations",
    "OnChainSource",
    "PositionsFileSource",
    "RecordedExchange",
    "ReplaySource",
    "Series",
    "Source",
    "load_positions",
    "make_exchange",
    "merge",
]
