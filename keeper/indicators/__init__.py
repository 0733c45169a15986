"""The keeper's indicators: pure functions over typed inputs (no I/O, no clock reads).

Glossary (ratios in basis points; prices in quote units per collateral unit; values in quote units):
  CVD    cross-venue deviation   |P_venue - P_index| / P_index
  R_L    depth ratio             depth within +-band of mid now / median calm depth
  S_I    slippage impact         (P_mid - P_exec(V)) / P_mid for a market sell worth V at mid
  V_P    price velocity          (max over the window - P_now) / max over the window
  LCE    liquidation-cluster exposure
                                 notional liquidatable within the next x% move / depth that absorbs it
  basis  perp/spot basis         (P_perp - P_spot) / P_spot, signed (an extra signal, never a trigger)

Bad data never trips by itself: every input is validated (finite, positive, fresh, uncrossed),
the reference index is a median with outlier rejection, and a failed check yields None (unknown),
which the policy treats as "no evidence", never as "critical".

The package: `types` (inputs, knobs, outputs), `scalar` (one market, value by value, and
`compute_market`) and `batch` (`MarketBatch` and `compute_batch`, many markets as arrays).
"""

from __future__ import annotations

from keeper.indicators.batch import (
    POSITION_CHUNK,
    BatchIndicators,
    MarketBatch,
    compute_batch,
)
from keeper.indicators.scalar import (
    basis_bps,
    book_depth,
    book_mid,
    book_problem,
    book_sell_vwap,
    book_slippage_bps,
    compute_market,
    depth_ratio_bps,
    deviation_bps,
    lce_bps,
    open_interest_at_risk,
    pool_depth,
    pool_exec_price,
    pool_slippage_bps,
    pool_spot,
    positions_at_risk,
    price_velocity_bps,
    reference_index,
    staleness,
)
from keeper.indicators.types import (
    BPS,
    IndexPrice,
    MarketIndicators,
    MarketInputs,
    OpenInterest,
    OrderBook,
    Positions,
    Quote,
    Settings,
)

__all__ = [
    "BPS",
    "BatchIndicators",
    "IndexPrice",
    "MarketBatch",
    "MarketIndicators",
    "MarketInputs",
    "OpenInterest",
    "OrderBook",
    "POSITION_CHUNK",
    "Positions",
    "Quote",
    "Settings",
    "basis_bps",
    "book_depth",
    "book_mid",
    "book_problem",
    "book_sell_vwap",
    "book_slippage_bps",
    "compute_batch",
    "compute_market",
    "depth_ratio_bps",
    "deviation_bps",
    "lce_bps",
    "open_interest_at_risk",
    "pool_depth",
    "pool_exec_price",
    "pool_slippage_bps",
    "pool_spot",
    "positions_at_risk",
    "price_velocity_bps",
    "reference_index",
    "staleness",
]
