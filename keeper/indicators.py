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
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

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


# ---------------------------------------------------------------- many markets at once (vectorised)
#
# `compute_market` stays the reference: `compute_batch` gives the same values (to rounding) for
# M markets from stacked arrays, so a keeper or a backtest watching a thousand markets pays numpy's
# per-call overhead once per indicator instead of once per market. Shapes: M markets; per market
# at most Q spot quotes, P perp quotes, O open-interest figures, B books of at most L levels and
# S history samples (fewer are padding, counted by `*_count` / `*_levels`); N positions in all,
# concatenated in market order (`pos_count` per market), reduced per market with np.add.reduceat.


@dataclass(frozen=True)
class MarketBatch:
    """M markets' inputs as arrays. Unknown scalars are NaN; padding is NaN (prices, times) or 0."""

    now: np.ndarray  # (M,)
    venue_price: np.ndarray  # (M,)
    venue_depth_usd: np.ndarray  # (M,)
    calm_depth_usd: np.ndarray  # (M,)
    quote_price: np.ndarray  # (M, Q)
    quote_time: np.ndarray  # (M, Q)
    quote_weight: np.ndarray  # (M, Q)
    quote_count: np.ndarray  # (M,)
    perp_price: np.ndarray  # (M, P)
    perp_time: np.ndarray  # (M, P)
    perp_weight: np.ndarray  # (M, P)
    perp_count: np.ndarray  # (M,)
    oi_value: np.ndarray  # (M, O)
    oi_time: np.ndarray  # (M, O)
    oi_count: np.ndarray  # (M,)
    bids: np.ndarray  # (M, B, L, 2): [price, amount], best first; padding 0
    asks: np.ndarray  # (M, B, L, 2)
    bid_levels: np.ndarray  # (M, B)
    ask_levels: np.ndarray  # (M, B)
    book_time: np.ndarray  # (M, B)
    book_count: np.ndarray  # (M,)
    pos_count: np.ndarray  # (M,) positions of each market, concatenated in market order below
    pos_collateral: np.ndarray  # (N,)
    pos_debt: np.ndarray  # (N,)
    pos_threshold_bps: np.ndarray  # (N,)
    price_times: np.ndarray  # (M, S)
    price_history: np.ndarray  # (M, S)

    @property
    def markets(self) -> int:
        return int(self.now.shape[0])

    @classmethod
    def from_inputs(cls, inputs: Sequence[MarketInputs]) -> MarketBatch:
        """Stacks per-market inputs (the same objects `compute_market` takes)."""
        m = len(inputs)

        def scalars(values: Iterable[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float).reshape(m)

        q_price, q_time, q_weight, q_count = _stack_quotes([i.quotes for i in inputs])
        p_price, p_time, p_weight, p_count = _stack_quotes([i.perp_quotes for i in inputs])
        o_value, o_time, _, o_count = _stack_quotes([i.open_interest for i in inputs], "value_usd")
        bids, asks, bid_levels, ask_levels, book_time, book_count = _stack_books([i.books for i in inputs])
        pos = [i.positions if i.positions is not None else Positions.empty() for i in inputs]
        sizes = np.fromiter((p.collateral.size for p in pos), np.intp, m)
        times, history = _stack_rows([i.price_times for i in inputs], [i.price_history for i in inputs])
        return cls(
            now=scalars(i.now for i in inputs),
            venue_price=scalars(i.venue_price for i in inputs),
            venue_depth_usd=scalars(i.venue_depth_usd for i in inputs),
            calm_depth_usd=scalars(i.calm_depth_usd for i in inputs),
            quote_price=q_price,
            quote_time=q_time,
            quote_weight=q_weight,
            quote_count=q_count,
            perp_price=p_price,
            perp_time=p_time,
            perp_weight=p_weight,
            perp_count=p_count,
            oi_value=o_value,
            oi_time=o_time,
            oi_count=o_count,
            bids=bids,
            asks=asks,
            bid_levels=bid_levels,
            ask_levels=ask_levels,
            book_time=book_time,
            book_count=book_count,
            pos_count=sizes,
            pos_collateral=_concat([p.collateral for p in pos]),
            pos_debt=_concat([p.debt for p in pos]),
            pos_threshold_bps=_concat([p.liquidation_threshold_bps for p in pos]),
            price_times=times,
            price_history=history,
        )


def _concat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays, axis=None, dtype=float) if arrays else np.zeros(0)


def _stack_quotes(
    rows: Sequence[Sequence[Any]], value: str = "price"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, timestamp, weight, count) of quote-like rows, NaN-padded to the longest row."""
    m = len(rows)
    count = np.fromiter(map(len, rows), np.intp, m)
    width = int(count.max(initial=0))
    out = [np.full((m, width), np.nan) for _ in range(3)]
    flat = [q for row in rows for q in row]
    if flat:
        mask = np.arange(width) < count[:, None]  # row-major: markets in order, items in order
        out[0][mask] = np.array([getattr(q, value) for q in flat], dtype=float)
        out[1][mask] = np.array([q.timestamp for q in flat], dtype=float)
        out[2][mask] = np.array([getattr(q, "weight", 1.0) for q in flat], dtype=float)
    return out[0], out[1], out[2], count


def _stack_books(rows: Sequence[Sequence[OrderBook]]) -> tuple[np.ndarray, ...]:
    m = len(rows)
    count = np.fromiter(map(len, rows), np.intp, m)
    width = int(count.max(initial=0))
    flat = [b for row in rows for b in row]
    nb = np.fromiter((len(b.bids) for b in flat), np.intp, len(flat))
    na = np.fromiter((len(b.asks) for b in flat), np.intp, len(flat))
    depth = max(1, int(max(nb.max(initial=0), na.max(initial=0))))
    present = np.arange(width) < count[:, None]
    sides = []
    for n, side in ((nb, "bids"), (na, "asks")):
        arr = np.zeros((m, width, depth, 2))
        if flat:
            try:
                levels = np.concatenate([getattr(b, side) for b in flat], dtype=float)
            except ValueError:  # not all (n, 2) arrays already
                levels = np.concatenate([np.asarray(getattr(b, side), float).reshape(-1, 2) for b in flat])
            filled = np.zeros((m, width), np.intp)
            filled[present] = n
            # Boolean assignment fills in row-major order: books in order, levels in order.
            arr[np.arange(depth) < filled[..., None]] = levels
        sides.append(arr)
    bid_levels = np.zeros((m, width), np.intp)
    ask_levels = np.zeros((m, width), np.intp)
    book_time = np.full((m, width), np.nan)
    bid_levels[present], ask_levels[present] = nb, na
    book_time[present] = np.array([np.nan if b.timestamp is None else b.timestamp for b in flat], dtype=float)
    return sides[0], sides[1], bid_levels, ask_levels, book_time, count


def _stack_rows(
    times: Sequence[np.ndarray | None], values: Sequence[np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Price histories as (M, S), NaN-padded (a NaN sample is ignored, as a bad one would be)."""
    m = len(times)
    pairs: list[tuple[np.ndarray, np.ndarray] | None] = [
        None if t is None or v is None else (np.asarray(t, float).ravel(), np.asarray(v, float).ravel())
        for t, v in zip(times, values, strict=True)
    ]
    present = [p for p in pairs if p is not None]
    if pairs and len(present) == m and all(len(t) == len(v) == len(present[0][0]) for t, v in present):
        # the usual case: one length
        return np.stack([t for t, _ in present]), np.stack([v for _, v in present])
    width = max((min(len(t), len(v)) for t, v in present), default=0)
    t_out = np.full((m, width), np.nan)
    v_out = np.full((m, width), np.nan)
    for i, pair in enumerate(pairs):
        if pair is not None:
            t, v = pair
            n = min(len(t), len(v))
            t_out[i, :n], v_out[i, :n] = t[:n], v[:n]
    return t_out, v_out


@dataclass(frozen=True)
class BatchIndicators:
    """`compute_batch`'s answer: (M,) arrays, NaN where `compute_market` says None.

    The `*_rejected` masks mark the inputs that were rejected (the per-market `rejected` keys);
    `compute_market` gives the reasons.
    """

    index_price: np.ndarray
    cvd_bps: np.ndarray
    rl_bps: np.ndarray
    si_bps: np.ndarray
    vp_bps: np.ndarray
    lce_bps: np.ndarray
    basis_bps: np.ndarray
    at_risk_usd: np.ndarray
    quote_rejected: np.ndarray  # (M, Q)
    perp_rejected: np.ndarray  # (M, P)
    book_rejected: np.ndarray  # (M, B)
    oi_rejected: np.ndarray  # (M, O)

    def as_dict(self, market: int) -> dict[str, float | None]:
        """Row `market` in `MarketIndicators.as_dict` form (None for unknown)."""
        out: dict[str, float | None] = {}
        for k in ("index_price", "cvd_bps", "rl_bps", "si_bps", "vp_bps", "lce_bps", "basis_bps"):
            v = float(getattr(self, k)[market])
            out[k] = None if math.isnan(v) else v
        return out


def _column(cfg: Settings | Sequence[Settings], name: str, m: int) -> np.ndarray:
    """One setting as an (M, 1) column: the same for all markets, or one Settings per market."""
    if isinstance(cfg, Settings):
        return np.full((m, 1), float(getattr(cfg, name)))
    return np.fromiter((getattr(c, name) for c in cfg), float, m).reshape(m, 1)


def _oi_factor(cfg: Settings) -> float:
    """Share of open interest `open_interest_at_risk` counts: long share x shares of the leverages hit."""
    return open_interest_at_risk(
        1.0, cfg.lce_move_bps, cfg.leverage_shares, cfg.oi_long_share, cfg.maintenance_margin_bps
    )


def _fresh(timestamp: np.ndarray, now: np.ndarray, max_age_s: np.ndarray) -> np.ndarray:
    """`staleness(...) is None`, elementwise (NaN timestamps are not fresh)."""
    age = now - timestamp
    return np.isfinite(timestamp) & (age >= -5) & (age <= max_age_s)


def _finite_pos(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0)


def _batch_index(
    price: np.ndarray,
    time: np.ndarray,
    weight: np.ndarray,
    count: np.ndarray,
    now: np.ndarray,
    max_age_s: np.ndarray,
    outlier_bps: np.ndarray,
    min_sources: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """`reference_index` for every row: (price or NaN, rejected mask)."""
    m, width = price.shape
    present = np.arange(width) < count[:, None]
    valid = present & _finite_pos(price) & _finite_pos(weight) & _fresh(time, now, max_age_s)
    n = valid.sum(axis=1)
    ranked = np.sort(np.where(valid, price, np.inf), axis=1)
    rows = np.arange(m)
    if width:
        lo = ranked[rows, np.maximum(n - 1, 0) // 2]
        hi = ranked[rows, np.minimum(n // 2, width - 1)]
        median = np.where(n > 0, (lo + hi) / 2, np.nan)[:, None]  # statistics.median
    else:
        median = np.full((m, 1), np.nan)
    kept = valid & (np.abs(price - median) / median * BPS <= outlier_bps)
    w = np.where(kept, weight, 0.0)
    total_w = w.sum(axis=1)
    index = np.where(kept, price * weight, 0.0).sum(axis=1) / np.where(total_w > 0, total_w, 1.0)
    enough = (kept.sum(axis=1) >= min_sources[:, 0]) & (total_w > 0)
    return np.where(enough, index, np.nan), present & ~kept


POSITION_CHUNK = 1 << 15


def _collateral_at_risk(
    collateral: np.ndarray,
    debt: np.ndarray,
    threshold_bps: np.ndarray,
    stressed: np.ndarray,
    counts: np.ndarray,
    chunk: int = POSITION_CHUNK,
) -> np.ndarray:
    """Per market, the collateral of positions liquidatable at its `stressed` price (`positions_at_risk`).

    Positions come concatenated in market order, `counts[i]` for market i. They are walked in
    cache-sized chunks: full-size temporaries would be fresh memory on every call (a million
    positions are 8 MB per array), and faulting that in costs more than the arithmetic.
    The operations are those of `positions_at_risk`, in the same order, so that a position on the
    boundary lands on the same side.
    """
    out = np.zeros(counts.shape[0])
    ends = np.cumsum(counts)
    starts = ends - counts
    for a in range(0, int(ends[-1]) if ends.size else 0, chunk):
        b = min(a + chunk, int(ends[-1]))
        lo, hi = int(np.searchsorted(ends, a, side="right")), int(np.searchsorted(starts, b, side="left"))
        first = np.maximum(starts[lo:hi], a)
        lengths = np.minimum(ends[lo:hi], b) - first  # the markets' pieces tile [a, b)
        c, d = collateral[a:b], debt[a:b]
        lt = threshold_bps[a:b] / BPS
        ok = np.isfinite(c) & np.isfinite(d) & np.isfinite(lt) & (c > 0) & (d > 0)
        x = np.repeat(stressed[lo:hi], lengths)
        np.multiply(c, x, out=x)
        np.multiply(x, lt, out=x)
        ok &= x < d
        some = lengths > 0
        out[lo:hi][some] += np.add.reduceat(np.where(ok, c, 0.0), (first - a)[some])
    return out


def compute_batch(batch: MarketBatch, cfg: Settings | Sequence[Settings]) -> BatchIndicators:
    """`compute_market` for every market of `batch` at once (one Settings, or one per market)."""
    m = batch.markets
    if not isinstance(cfg, Settings) and len(cfg) != m:
        raise ValueError(f"{len(cfg)} settings for {m} markets")
    n = int(batch.pos_count.sum())
    if not n == batch.pos_collateral.size == batch.pos_debt.size == batch.pos_threshold_bps.size:
        raise ValueError(
            f"pos_count sums to {n} but the position arrays hold {batch.pos_collateral.size}, "
            f"{batch.pos_debt.size} and {batch.pos_threshold_bps.size}"
        )
    col = functools.partial(_column, cfg, m=m)
    now = batch.now[:, None]
    max_age = col("max_age_s")
    rows = np.arange(m)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # reference index and CVD
        index, quote_rejected = _batch_index(
            batch.quote_price,
            batch.quote_time,
            batch.quote_weight,
            batch.quote_count,
            now,
            max_age,
            col("outlier_bps"),
            col("min_sources"),
        )
        venue = batch.venue_price
        venue_ok = _finite_pos(venue)
        cvd = np.where(venue_ok, np.abs(venue - index) / index * BPS, np.nan)

        # order books: validation, depth within the band, R_L, S_I
        bids, asks = batch.bids, batch.asks
        width, depth_levels = bids.shape[1], bids.shape[2]
        levels = np.arange(depth_levels)
        bid_in = levels < batch.bid_levels[..., None]
        ask_in = levels < batch.ask_levels[..., None]
        bid_p, bid_a, ask_p, ask_a = bids[..., 0], bids[..., 1], asks[..., 0], asks[..., 1]
        levels_ok = np.all((_finite_pos(bid_p) & _finite_pos(bid_a)) | ~bid_in, axis=-1) & np.all(
            (_finite_pos(ask_p) & _finite_pos(ask_a)) | ~ask_in, axis=-1
        )
        present = np.arange(width) < batch.book_count[:, None]
        best_bid, best_ask = bid_p[..., 0], ask_p[..., 0]
        good = (
            present
            & _fresh(batch.book_time, now, max_age)
            & (batch.bid_levels > 0)
            & (batch.ask_levels > 0)
            & levels_ok
            & (best_bid < best_ask)
        )
        mid = (best_bid + best_ask) / 2.0
        band = col("band_bps")[..., None]  # (M, 1, 1)
        bid_value = np.where(bid_in, bid_p * bid_a, 0.0)
        bid_depth = np.sum(np.where(bid_p >= mid[..., None] * (1 - band / BPS), bid_value, 0.0), axis=-1)
        ask_depth = np.sum(
            np.where(ask_in & (ask_p <= mid[..., None] * (1 + band / BPS)), ask_p * ask_a, 0.0), axis=-1
        )
        any_good = good.any(axis=1)
        books_depth = np.where(good, bid_depth + ask_depth, 0.0).sum(axis=1)
        calm = batch.calm_depth_usd
        rl = np.where(
            any_good & _finite_pos(calm) & np.isfinite(books_depth) & (books_depth >= 0),
            books_depth / calm * BPS,
            np.nan,
        )

        base = col("si_notional") / mid  # (M, B) base units sold
        amounts = np.where(bid_in, bid_a, 0.0)
        cum = np.cumsum(amounts, axis=-1)
        cum_quote = np.cumsum(bid_value, axis=-1)
        fills = cum[..., -1] >= base if depth_levels else np.zeros_like(good)
        i = np.minimum(np.sum(cum < base[..., None], axis=-1), depth_levels - 1)[..., None]
        before = np.maximum(i - 1, 0)
        prev = np.where(i > 0, np.take_along_axis(cum, before, -1), 0.0)[..., 0]
        quote = (
            np.where(i > 0, np.take_along_axis(cum_quote, before, -1), 0.0)[..., 0]
            + (base - prev) * np.take_along_axis(bid_p, i, -1)[..., 0]
        )
        slip = np.where(fills, np.fmax(0.0, (mid - quote / base) / mid * BPS), BPS)  # fmax: as max(0.0, x)
        si = np.where(any_good, np.max(np.where(good, slip, -np.inf), axis=1, initial=-np.inf), np.nan)

        # V_P over the history
        t, p = batch.price_times, batch.price_history
        ok = np.isfinite(t) & _finite_pos(p) & (t <= now + 5)
        has = ok.any(axis=1)
        if t.shape[1]:
            t_last = np.max(np.where(ok, t, -np.inf), axis=1, keepdims=True)
            last = (
                t.shape[1] - 1 - np.argmax((ok & (t == t_last))[:, ::-1], axis=1)
            )  # the last of equal times
            latest = p[rows, last]
            high = np.maximum(
                np.max(np.where(ok & (t >= now - col("vp_window_s")), p, -np.inf), axis=1), latest
            )
        else:
            latest = high = np.full(m, np.nan)
        vp = np.where(has, np.fmax(0.0, (high - latest) / high * BPS), np.nan)

        # basis against the perp index
        spot = np.where(np.isfinite(index), index, np.where(venue_ok, venue, np.nan))
        ones = np.ones((m, 1))
        perp, perp_rejected = _batch_index(
            batch.perp_price,
            batch.perp_time,
            batch.perp_weight,
            batch.perp_count,
            now,
            max_age,
            col("outlier_bps"),
            ones,
        )
        basis = np.where(_finite_pos(perp) & _finite_pos(spot), (perp - spot) / spot * BPS, np.nan)

        # LCE: open interest and positions a move_bps fall would liquidate, over the bid depth
        o = batch.oi_value
        o_present = np.arange(o.shape[1]) < batch.oi_count[:, None]
        oi_ok = o_present & _fresh(batch.oi_time, now, max_age) & (_finite_pos(o) | (o == 0))
        oi_any = oi_ok.any(axis=1)
        if isinstance(cfg, Settings):
            factor: float | np.ndarray = _oi_factor(cfg)
        else:
            cache: dict[int, float] = {}
            factor = np.fromiter((cache.setdefault(id(one), _oi_factor(one)) for one in cfg), float, m)
        oi_part = np.where(oi_any, np.where(oi_ok, o, 0.0).sum(axis=1) * factor, 0.0)

        stressed = spot * (1 - col("lce_move_bps")[:, 0] / BPS)
        pos_part = (
            _collateral_at_risk(
                batch.pos_collateral, batch.pos_debt, batch.pos_threshold_bps, stressed, batch.pos_count
            )
            * spot
        )
        has_pos = batch.pos_count > 0
        at_risk = np.where(
            np.isfinite(spot) & (oi_any | has_pos), oi_part + np.where(has_pos, pos_part, 0.0), np.nan
        )
        venue_depth = batch.venue_depth_usd
        depth_total = np.where(good, bid_depth, 0.0).sum(axis=1) + np.where(
            _finite_pos(venue_depth), venue_depth, 0.0
        )
        lce = np.where(
            np.isfinite(at_risk) & (at_risk >= 0) & _finite_pos(depth_total),
            at_risk / depth_total * BPS,
            np.nan,
        )
    return BatchIndicators(
        index,
        cvd,
        rl,
        si,
        vp,
        lce,
        basis,
        at_risk,
        quote_rejected,
        perp_rejected,
        present & ~good,
        o_present & ~oi_ok,
    )
