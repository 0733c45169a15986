"""The indicators of one market, value by value: validation, the reference index, CVD, R_L, S_I, V_P, LCE
and basis, and `compute_market`, the reference `compute_batch` is held to."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import overload

import numpy as np

from keeper.indicators.types import (
    BPS,
    IndexPrice,
    MarketIndicators,
    MarketInputs,
    OrderBook,
    Positions,
    Quote,
    Settings,
)

# ---------------------------------------------------------------- validation


def _finite_positive(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(x) and x > 0


def staleness(timestamp: float | None, now: float, max_age_s: float) -> str | None:
    """None when fresh; otherwise why not (missing, in the future, or too old)."""
    if timestamp is None or not math.isfinite(timestamp):
        return "no timestamp"
    age = now - timestamp
    if age < -5:
        return f"timestamp {-age:,.0f} s in the future"
    if age > max_age_s:
        return f"stale ({age:,.0f} s old, limit {max_age_s:,.0f} s)"
    return None


def book_problem(book: OrderBook, now: float, max_age_s: float) -> str | None:
    """None when the book is usable; otherwise the reason it is rejected."""
    old = staleness(book.timestamp, now, max_age_s)
    if old:
        return old
    if len(book.bids) == 0 or len(book.asks) == 0:
        return "empty side"
    both = np.concatenate([book.bids, book.asks])
    if not np.all(np.isfinite(both)) or np.any(both <= 0):
        return "non-finite or non-positive level"
    if book.bids[0, 0] >= book.asks[0, 0]:
        return f"crossed book (bid {book.bids[0, 0]:g} >= ask {book.asks[0, 0]:g})"
    return None


# ---------------------------------------------------------------- reference index and CVD


def reference_index(
    quotes: Iterable[Quote], now: float, *, max_age_s: float, outlier_bps: float, min_sources: int = 1
) -> IndexPrice:
    """Weighted mean of the sources that survive validation and median-based outlier rejection.

    A source is rejected when its price is not finite and positive, when it is stale, or when it
    is more than `outlier_bps` from the median of the valid sources. One wild source therefore
    never moves the index; two sources that disagree strongly both fail and the index is invalid.
    """
    rejected: dict[str, str] = {}
    valid: list[Quote] = []
    for q in quotes:
        if not _finite_positive(q.price):
            rejected[q.source] = f"bad price {q.price!r}"
        elif not _finite_positive(q.weight):
            rejected[q.source] = f"bad weight {q.weight!r}"
        elif (why := staleness(q.timestamp, now, max_age_s)) is not None:
            rejected[q.source] = why
        else:
            valid.append(q)
    if not valid:
        return IndexPrice(None, (), rejected)
    # A handful of sources: plain Python beats numpy's per-call overhead here.
    median = statistics.median(q.price for q in valid)
    kept: list[Quote] = []
    for q in valid:
        dev = abs(q.price - median) / median * BPS
        if dev <= outlier_bps:
            kept.append(q)
        else:
            rejected[q.source] = f"outlier ({dev:,.0f} bps from the median {median:.6g})"
    used = tuple(q.source for q in kept)
    if len(kept) < min_sources:
        return IndexPrice(None, used, rejected)
    price = sum(q.price * q.weight for q in kept) / sum(q.weight for q in kept)
    return IndexPrice(price, used, rejected)


@overload
def deviation_bps(price: float, reference: float) -> float: ...
@overload
def deviation_bps(price: np.ndarray, reference: float | np.ndarray) -> np.ndarray: ...
def deviation_bps(price: float | np.ndarray, reference: float | np.ndarray) -> float | np.ndarray:
    """CVD: |price - reference| / reference, in bps (vectorised)."""
    out = np.abs(np.asarray(price, float) - reference) / reference * BPS
    return float(out) if np.ndim(out) == 0 else out


# ---------------------------------------------------------------- order books


def book_mid(book: OrderBook) -> float:
    return float(book.bids[0, 0] + book.asks[0, 0]) / 2.0


def book_depth(book: OrderBook, band_bps: float, side: str = "both") -> float:
    """Quote value resting within +-band of mid (`side`: "bid", "ask" or "both")."""
    mid = book_mid(book)
    total = 0.0
    if side in ("bid", "both"):
        b = book.bids
        total += float(np.sum(b[:, 0] * b[:, 1], where=b[:, 0] >= mid * (1 - band_bps / BPS)))
    if side in ("ask", "both"):
        a = book.asks
        total += float(np.sum(a[:, 0] * a[:, 1], where=a[:, 0] <= mid * (1 + band_bps / BPS)))
    return total


def book_sell_vwap(book: OrderBook, notional: float) -> float | None:
    """Average price of a market sell of `notional / mid` base units into the bids; None if it cannot fill."""
    mid = book_mid(book)
    base = notional / mid
    amounts = book.bids[:, 1]
    cum = np.cumsum(amounts)
    if cum.size == 0 or cum[-1] < base:
        return None
    i = int(np.searchsorted(cum, base))  # first level at which the fill completes
    prev = cum[i - 1] if i > 0 else 0.0
    quote = float(np.dot(book.bids[:i, 0], amounts[:i])) + (base - prev) * float(book.bids[i, 0])
    return quote / base


def book_slippage_bps(book: OrderBook, notional: float) -> float:
    """S_I of a book: 10,000 bps (100%) when the book cannot fill the notional."""
    vwap = book_sell_vwap(book, notional)
    if vwap is None:
        return BPS
    mid = book_mid(book)
    return max(0.0, (mid - vwap) / mid * BPS)


# ---------------------------------------------------------------- x*y=k pools (vectorised over pools)


def pool_spot(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
    """Marginal price of the collateral (reserve x) in quote (reserve y)."""
    return np.asarray(y, float) / x


def pool_depth(x: np.ndarray | float, y: np.ndarray | float, band_bps: float) -> np.ndarray | float:
    """Quote paid out by a sell that moves a constant-product pool's price down by `band_bps`.

    Price y/x falls to p(1-b) when y' = sqrt(k p (1-b)) = y sqrt(1-b): the sell takes y (1 - sqrt(1-b)).
    """
    return np.asarray(y, float) * (1.0 - math.sqrt(1.0 - band_bps / BPS))


def pool_exec_price(
    x: np.ndarray | float, y: np.ndarray | float, notional: float, fee_bps: float = 0.0
) -> np.ndarray | float:
    """Average price of a sell worth `notional` at spot into a constant-product pool, after its fee."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    dx = notional / (y / x)
    dx_in = dx * (1 - fee_bps / BPS)
    dy = y * dx_in / (x + dx_in)
    return dy / dx


def pool_slippage_bps(
    x: np.ndarray | float, y: np.ndarray | float, notional: float, fee_bps: float = 0.0
) -> np.ndarray | float:
    spot = pool_spot(x, y)
    return (spot - pool_exec_price(x, y, notional, fee_bps)) / spot * BPS


# ---------------------------------------------------------------- R_L, V_P, basis


def depth_ratio_bps(depth_now: float, calm_samples: Sequence[float] | np.ndarray) -> float | None:
    """R_L: depth now over the median of the calm samples (None without a usable baseline)."""
    samples = np.asarray(calm_samples, float)
    samples = samples[np.isfinite(samples) & (samples > 0)]
    if samples.size == 0 or not math.isfinite(depth_now) or depth_now < 0:
        return None
    return depth_now / float(np.median(samples)) * BPS


def price_velocity_bps(
    times: np.ndarray | Sequence[float], prices: np.ndarray | Sequence[float], now: float, window_s: float
) -> float | None:
    """V_P: largest drop from the window's high to the latest price (None without a valid latest price)."""
    t = np.asarray(times, float)
    p = np.asarray(prices, float)
    ok = np.isfinite(t) & np.isfinite(p) & (p > 0) & (t <= now + 5)
    t, p = t[ok], p[ok]
    if p.size == 0:
        return None
    order = np.argsort(t, kind="stable")
    t, p = t[order], p[order]
    latest = float(p[-1])
    high = float(np.max(p[t >= now - window_s], initial=latest))
    return max(0.0, (high - latest) / high * BPS)


def basis_bps(perp: float, spot: float) -> float | None:
    if not (_finite_positive(perp) and _finite_positive(spot)):
        return None
    return (perp - spot) / spot * BPS


# ---------------------------------------------------------------- LCE


def positions_at_risk(positions: Positions, price: float, move_bps: float) -> float:
    """Collateral value (at `price`) of positions liquidatable if the price falls by `move_bps`.

    A position is liquidatable when collateral x price x threshold < debt; positions already
    liquidatable count too (they are selling pressure as well).
    """
    c, d, lt = positions.collateral, positions.debt, positions.liquidation_threshold_bps / BPS
    ok = np.isfinite(c) & np.isfinite(d) & np.isfinite(lt) & (c > 0) & (d > 0)
    stressed = price * (1 - move_bps / BPS)
    at_risk = ok & (c * stressed * lt < d)
    return float(np.sum(c[at_risk]) * price)


def open_interest_at_risk(
    oi_usd: float,
    move_bps: float,
    leverage_shares: Mapping[float, float],
    long_share: float = 0.5,
    maintenance_margin_bps: float = 50,
) -> float:
    """Long open interest whose liquidation price lies within the next `move_bps` fall.

    A long at leverage L is liquidated after a fall of about 1/L - maintenance margin.
    """
    lev = np.fromiter(leverage_shares.keys(), float)
    share = np.fromiter(leverage_shares.values(), float)
    distance = 1.0 / lev - maintenance_margin_bps / BPS
    hit = distance <= move_bps / BPS
    return float(oi_usd * long_share * np.sum(share[hit]))


def lce_bps(at_risk_usd: float, depth_usd: float) -> float | None:
    """Liquidatable notional over the depth that must absorb it (None without depth)."""
    if not (math.isfinite(at_risk_usd) and at_risk_usd >= 0 and _finite_positive(depth_usd)):
        return None
    return at_risk_usd / depth_usd * BPS


# ---------------------------------------------------------------- one market, all at once


def compute_market(inp: MarketInputs, cfg: Settings) -> MarketIndicators:
    """All indicators of one market; a value is None when its inputs were rejected or missing."""
    index = reference_index(
        inp.quotes, inp.now, max_age_s=cfg.max_age_s, outlier_bps=cfg.outlier_bps, min_sources=cfg.min_sources
    )
    rejected = dict(index.rejected)
    venue = inp.venue_price if _finite_positive(inp.venue_price) else None
    cvd = deviation_bps(venue, index.price) if venue is not None and index.price else None

    good_books: list[OrderBook] = []
    for book in inp.books:
        why = book_problem(book, inp.now, cfg.max_age_s)
        if why:
            rejected[f"book:{book.source}"] = why
        else:
            good_books.append(book)
    book_depth_usd = sum(book_depth(b, cfg.band_bps, "both") for b in good_books)
    rl = None
    if good_books and inp.calm_depth_usd:
        rl = depth_ratio_bps(book_depth_usd, [inp.calm_depth_usd])
    si = max((book_slippage_bps(b, cfg.si_notional) for b in good_books), default=None)

    vp = None
    if inp.price_history is not None and inp.price_times is not None:
        vp = price_velocity_bps(inp.price_times, inp.price_history, inp.now, cfg.vp_window_s)

    spot = index.price if index.price else venue
    perp = reference_index(inp.perp_quotes, inp.now, max_age_s=cfg.max_age_s, outlier_bps=cfg.outlier_bps)
    rejected.update({f"perp:{k}": v for k, v in perp.rejected.items()})
    basis = basis_bps(perp.price, spot) if perp.price and spot else None

    at_risk: float | None = None
    oi_values = []
    for oi in inp.open_interest:
        why = staleness(oi.timestamp, inp.now, cfg.max_age_s)
        if not _finite_positive(oi.value_usd) and oi.value_usd != 0:
            why = f"bad open interest {oi.value_usd!r}"
        if why:
            rejected[f"oi:{oi.source}"] = why
        else:
            oi_values.append(oi.value_usd)
    if spot is not None and (oi_values or (inp.positions is not None and inp.positions.collateral.size)):
        at_risk = 0.0
        if oi_values:
            at_risk += open_interest_at_risk(
                sum(oi_values),
                cfg.lce_move_bps,
                cfg.leverage_shares,
                cfg.oi_long_share,
                cfg.maintenance_margin_bps,
            )
        if inp.positions is not None:
            at_risk += positions_at_risk(inp.positions, spot, cfg.lce_move_bps)
    depth_total = sum(book_depth(b, cfg.band_bps, "bid") for b in good_books)
    if inp.venue_depth_usd is not None and _finite_positive(inp.venue_depth_usd):
        depth_total += inp.venue_depth_usd
    lce = lce_bps(at_risk, depth_total) if at_risk is not None else None
    return MarketIndicators(index.price, cvd, rl, si, vp, lce, basis, at_risk, rejected)
