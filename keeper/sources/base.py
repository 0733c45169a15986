"""The one protocol every source implements, and what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from keeper.indicators import OpenInterest, OrderBook, Positions, Quote
from keeper.model import OnChainMarket


@dataclass
class Observations:
    """What one source saw of one market; fields a source does not know stay empty."""

    chain: OnChainMarket | None = None
    quotes: list[Quote] = field(default_factory=list)
    books: list[OrderBook] = field(default_factory=list)
    perp_quotes: list[Quote] = field(default_factory=list)
    open_interest: list[OpenInterest] = field(default_factory=list)
    positions: Positions | None = None
    calm_depth_usd: float | None = None
    errors: list[str] = field(default_factory=list)


class Source(Protocol):
    name: str

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        """Observations per market id. Must not raise for one bad market or venue: record it in `errors`."""
        ...


def merge(parts: Sequence[Observations]) -> Observations:
    out = Observations()
    for p in parts:
        out.chain = p.chain or out.chain
        out.quotes += p.quotes
        out.books += p.books
        out.perp_quotes += p.perp_quotes
        out.open_interest += p.open_interest
        out.errors += p.errors
        if p.positions is not None:
            out.positions = p.positions
        if p.calm_depth_usd is not None:
            out.calm_depth_usd = (out.calm_depth_usd or 0.0) + p.calm_depth_usd
    return out
