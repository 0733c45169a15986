"""The indicators' inputs and outputs: quotes, books, positions, open interest, one market's inputs, the
knobs and the values (prices in quote units per collateral unit; ratios in basis points)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

BPS = 10_000.0


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Quote:
    """One source's price at a time (seconds since the epoch)."""

    source: str
    price: float
    timestamp: float
    weight: float = 1.0


@dataclass(frozen=True)
class OrderBook:
    """Levels as float arrays of shape (n, 2): [price, amount in base units]; bids high to low."""

    source: str
    bids: np.ndarray
    asks: np.ndarray
    timestamp: float | None

    @classmethod
    def from_ccxt(cls, raw: Mapping, source: str) -> OrderBook:
        """From ccxt's unified order book (`fetch_order_book`): timestamp in milliseconds."""

        def levels(side: Sequence[Sequence[float]] | None) -> np.ndarray:
            rows = [lvl[:2] for lvl in (side or [])]
            arr = np.asarray(rows, dtype=float).reshape(-1, 2) if rows else np.zeros((0, 2))
            return arr

        ts = raw.get("timestamp")
        return cls(
            source,
            levels(raw.get("bids")),
            levels(raw.get("asks")),
            None if ts is None else float(ts) / 1000.0,
        )


@dataclass(frozen=True)
class Positions:
    """Lending positions as arrays: collateral (base units), debt (quote units), threshold (bps)."""

    collateral: np.ndarray
    debt: np.ndarray
    liquidation_threshold_bps: np.ndarray

    @classmethod
    def empty(cls) -> Positions:
        z = np.zeros(0)
        return cls(z, z, z)


@dataclass(frozen=True)
class OpenInterest:
    source: str
    value_usd: float
    timestamp: float


@dataclass(frozen=True)
class IndexPrice:
    """The reference index: None when fewer valid sources than required."""

    price: float | None
    used: tuple[str, ...]
    rejected: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- one market: inputs, knobs, values


@dataclass(frozen=True)
class MarketInputs:
    """Everything the keeper knows about one market in one cycle (chain values already in floats)."""

    now: float
    venue_price: float | None = None  # on-chain venue spot
    venue_depth_usd: float | None = None  # on-chain venue depth within the band
    quotes: Sequence[Quote] = ()  # off-chain spot prices for the index
    books: Sequence[OrderBook] = ()
    calm_depth_usd: float | None = None  # R_L baseline of the off-chain books, summed
    perp_quotes: Sequence[Quote] = ()
    open_interest: Sequence[OpenInterest] = ()
    positions: Positions | None = None
    price_times: np.ndarray | None = None
    price_history: np.ndarray | None = None


@dataclass(frozen=True)
class Settings:
    """The knobs the indicators need (a plain subset of the keeper config)."""

    max_age_s: float = 30.0
    outlier_bps: float = 200.0
    min_sources: int = 1
    band_bps: float = 100.0
    si_notional: float = 1_000_000.0
    vp_window_s: float = 300.0
    lce_move_bps: float = 1_000.0
    leverage_shares: Mapping[float, float] = field(
        default_factory=lambda: {2.0: 0.3, 5.0: 0.4, 10.0: 0.2, 25.0: 0.1}
    )
    oi_long_share: float = 0.5
    maintenance_margin_bps: float = 50.0


@dataclass(frozen=True)
class MarketIndicators:
    index_price: float | None
    cvd_bps: float | None
    rl_bps: float | None
    si_bps: float | None
    vp_bps: float | None
    lce_bps: float | None
    basis_bps: float | None
    at_risk_usd: float | None
    rejected: Mapping[str, str]

    def as_dict(self) -> dict[str, float | None]:
        return {
            k: getattr(self, k)
            for k in ("index_price", "cvd_bps", "rl_bps", "si_bps", "vp_bps", "lce_bps", "basis_bps")
        }
