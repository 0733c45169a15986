"""The indicators of many markets at once: `MarketBatch` (the inputs stacked as arrays) and
`compute_batch`, vectorised with numpy."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keeper.indicators.scalar import open_interest_at_risk
from keeper.indicators.types import BPS, MarketInputs, OrderBook, Positions, Settings

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
