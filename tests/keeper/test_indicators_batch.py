"""compute_batch (many markets at once) against compute_market (the per-market reference), on random
inputs full of bad data: NaN, zero, negative, infinite, stale, future, outliers, crossed and empty books."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from keeper import indicators as I
from keeper.indicators.batch import _collateral_at_risk
from tests.keeper.conftest import recorded

# The per-market reference multiplies infinite bad values by zero before masking them out.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")

NOW = 1_760_126_400.0
KEYS = ("index_price", "cvd_bps", "rl_bps", "si_bps", "vp_bps", "lce_bps", "basis_bps")


def _pick(rng: np.random.Generator, good: float, bad: list[float | None], p_bad: float = 0.2) -> float | None:
    return bad[int(rng.integers(len(bad)))] if rng.random() < p_bad else good


def _time(rng: np.random.Generator, now: float) -> float:
    # around the edges: 5 s in the future is tolerated, 6 s is not; max_age_s is 10, 30 or 120
    return float(
        _pick(
            rng,
            now - rng.uniform(0, 25),
            [
                now - 31,
                now - 5_000,
                now + 60,
                now + 4.5,
                now + 6,
                now - 10.0,
                now - 30.0,
                now - 30.5,
                float("nan"),
            ],
        )
    )


def _quotes(rng: np.random.Generator, now: float, mid: float, prefix: str) -> list[I.Quote]:
    out = []
    for k in range(int(rng.integers(0, 5))):
        price = _pick(
            rng,
            mid * (1 + rng.normal(0, 5e-4)),
            [float("nan"), 0.0, -1.0, float("inf"), mid * 0.5, mid * 1.5],
            0.25,
        )
        weight = _pick(rng, float(rng.choice([1.0, 2.0, 3.0])), [0.0, float("nan"), -1.0], 0.1)
        out.append(I.Quote(f"{prefix}{k}", price, _time(rng, now), weight))
    return out


def _book(rng: np.random.Generator, now: float, mid: float, name: str) -> I.OrderBook:
    n_bid, n_ask = (int(x) for x in rng.integers(1, 40, 2))
    step = rng.uniform(1e-4, 2e-3)
    bids = np.column_stack([mid * (1 - step * np.arange(1, n_bid + 1)), rng.lognormal(11, 1.5, n_bid)])
    asks = np.column_stack([mid * (1 + step * np.arange(1, n_ask + 1)), rng.lognormal(11, 1.5, n_ask)])
    flaw = rng.integers(0, 12)
    if flaw == 0:
        bids = bids[:0]  # empty side
    elif flaw == 1:
        bids[int(rng.integers(n_bid)), int(rng.integers(2))] = np.nan
    elif flaw == 2:
        asks[int(rng.integers(n_ask)), 1] = 0.0
    elif flaw == 3:
        bids[:, 0] = asks[0, 0] * 1.01 - step * np.arange(n_bid)  # crossed
    elif flaw == 4:
        asks[0, 0] = -1.0
    stamp = None if rng.random() < 0.05 else _time(rng, now)
    return I.OrderBook(name, bids, asks, stamp)


def _positions(rng: np.random.Generator) -> I.Positions | None:
    if rng.random() < 0.2:
        return None
    n = int(rng.integers(0, 60))
    coll = rng.lognormal(8, 1.0, n)
    debt = coll * rng.uniform(0.3, 0.95, n)
    lt = rng.choice([8_000.0, 8_500.0, 9_000.0], n)
    for arr, bad in (
        (coll, [np.nan, 0.0, -5.0, np.inf]),
        (debt, [np.nan, 0.0, -1.0, np.inf]),
        (lt, [np.nan, -np.inf, np.inf, 0.0]),
    ):
        hit = rng.random(n) < 0.05
        arr[hit] = rng.choice(bad, int(hit.sum()))
    if n >= 2:  # one position exactly on the liquidation boundary at price 1 after a 10% fall
        coll[0], debt[0], lt[0] = 100.0, 100.0 * 0.9 * 0.9, 9_000.0
    return I.Positions(coll, debt, lt)


def _history(rng: np.random.Generator, now: float, mid: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    if rng.random() < 0.15:
        return None, None
    n = int(rng.integers(0, 80))
    t = np.sort(now - rng.uniform(0, 900, n))
    if n > 3:
        t[-2] = t[-1]  # a tie on the latest time: the later sample is the latest price
    p = mid * (1 + np.cumsum(rng.normal(0, 2e-3, n)))
    bad = rng.random(n) < 0.08
    p[bad] = rng.choice([np.nan, 0.0, -1.0, np.inf], int(bad.sum()))
    t[rng.random(n) < 0.05] = now + rng.choice([4.0, 5.0, 6.0, 60.0])  # from the future (5 s tolerated)
    t[rng.random(n) < 0.03] = np.nan
    return t, p


def random_market(rng: np.random.Generator) -> I.MarketInputs:
    now = NOW + float(rng.integers(0, 3))
    mid = float(rng.uniform(0.5, 2.0))
    books = [
        _book(rng, now, mid * (1 + rng.normal(0, 1e-3)), f"b{k}") for k in range(int(rng.integers(0, 4)))
    ]
    oi = [
        I.OpenInterest(
            f"o{k}",
            float(_pick(rng, rng.uniform(1e6, 5e8), [0.0, float("nan"), -1.0, float("inf")])),
            _time(rng, now),
        )
        for k in range(int(rng.integers(0, 3)))
    ]
    times, prices = _history(rng, now, mid)
    return I.MarketInputs(
        now=now,
        venue_price=_pick(
            rng, mid * (1 + rng.normal(0, 0.02)), [None, float("nan"), 0.0, -1.0, float("inf")]
        ),
        venue_depth_usd=_pick(rng, float(rng.uniform(1e5, 1e7)), [None, float("nan"), 0.0, -3.0]),
        quotes=_quotes(rng, now, mid, "q"),
        books=books,
        calm_depth_usd=_pick(rng, float(rng.uniform(1e5, 1e7)), [None, float("nan"), 0.0, -1.0]),
        perp_quotes=_quotes(rng, now, mid * 1.001, "p"),
        open_interest=oi,
        positions=_positions(rng),
        price_times=times,
        price_history=prices,
    )


def random_settings(rng: np.random.Generator) -> I.Settings:
    return I.Settings(
        max_age_s=float(rng.choice([10.0, 30.0, 120.0])),
        outlier_bps=float(rng.choice([50, 200, 800])),
        min_sources=int(rng.integers(1, 3)),
        band_bps=float(rng.choice([50, 100, 200])),
        si_notional=float(rng.choice([1e4, 1e6, 5e7])),
        vp_window_s=float(rng.choice([60, 300])),
        lce_move_bps=float(rng.choice([500, 1_000, 2_000])),
        oi_long_share=float(rng.uniform(0, 1)),
        maintenance_margin_bps=float(rng.choice([0, 50])),
    )


def rejected_keys(inp: I.MarketInputs, out: I.BatchIndicators, row: int) -> set[str]:
    keys = {q.source for q, bad in zip(inp.quotes, out.quote_rejected[row], strict=False) if bad}
    keys |= {f"book:{b.source}" for b, bad in zip(inp.books, out.book_rejected[row], strict=False) if bad}
    keys |= {
        f"perp:{q.source}" for q, bad in zip(inp.perp_quotes, out.perp_rejected[row], strict=False) if bad
    }
    keys |= {f"oi:{o.source}" for o, bad in zip(inp.open_interest, out.oi_rejected[row], strict=False) if bad}
    return keys


def assert_same(inputs: list[I.MarketInputs], cfgs: list[I.Settings], out: I.BatchIndicators) -> None:
    for row, (inp, cfg) in enumerate(zip(inputs, cfgs, strict=True)):
        ref = I.compute_market(inp, cfg)
        got = out.as_dict(row)
        for key in KEYS:
            want = getattr(ref, key)
            assert (got[key] is None) == (want is None), (row, key, got[key], want)
            if want is not None:
                assert got[key] == pytest.approx(want, rel=1e-9, abs=1e-9), (row, key)
        if ref.at_risk_usd is None:
            assert math.isnan(out.at_risk_usd[row]), row
        else:
            assert out.at_risk_usd[row] == pytest.approx(ref.at_risk_usd, rel=1e-9, abs=1e-9), row
        assert rejected_keys(inp, out, row) == set(ref.rejected), row


@pytest.mark.parametrize("seed", range(4))
def test_batch__equals_per_market_on_random_bad_data(seed):
    rng = np.random.default_rng(seed)
    inputs = [random_market(rng) for _ in range(150)]
    cfg = random_settings(rng)
    out = I.compute_batch(I.MarketBatch.from_inputs(inputs), cfg)
    assert_same(inputs, [cfg] * len(inputs), out)
    # the random data did exercise both sides of every check
    for key in KEYS:
        values = getattr(out, key)
        assert np.isnan(values).any() and np.isfinite(values).any(), key
    assert out.quote_rejected.any() and out.book_rejected.any() and out.oi_rejected.any()


def test_batch__one_settings_per_market():
    rng = np.random.default_rng(42)
    inputs = [random_market(rng) for _ in range(120)]
    cfgs = [random_settings(rng) for _ in inputs]
    assert_same(inputs, cfgs, I.compute_batch(I.MarketBatch.from_inputs(inputs), cfgs))
    with pytest.raises(ValueError, match="3 settings for 120 markets"):
        I.compute_batch(I.MarketBatch.from_inputs(inputs), cfgs[:3])


def test_batch__positions_cross_chunks_and_boundaries():
    """Markets whose positions straddle the chunks of the position walk, empty ones between, and positions
    exactly on the liquidation boundary (debt == collateral x stressed price x threshold) or one ulp off."""
    rng = np.random.default_rng(5)
    sizes = [0, 7, 0, 0, 40, 1, 0, 33, 16, 0]
    inputs = [
        I.MarketInputs(
            now=NOW,
            venue_price=1.0,
            positions=I.Positions(
                c := rng.lognormal(5, 1, n), c * rng.uniform(0.5, 0.95, n), np.full(n, 9_000.0)
            ),
        )
        for n in sizes
    ]
    c = rng.lognormal(5, 1, 3)
    on = c * 0.9 * 0.9  # a 10% fall from 1.0 at a 90% threshold
    inputs.append(
        I.MarketInputs(
            now=NOW,
            venue_price=1.0,
            positions=I.Positions(
                np.tile(c, 3),
                np.concatenate([on, np.nextafter(on, 0), np.nextafter(on, np.inf)]),
                np.full(9, 9_000.0),
            ),
        )
    )
    batch = I.MarketBatch.from_inputs(inputs)
    stressed = np.full(len(inputs), 0.9)
    whole = _collateral_at_risk(
        batch.pos_collateral, batch.pos_debt, batch.pos_threshold_bps, stressed, batch.pos_count
    )
    assert whole[-1] == pytest.approx(c.sum())  # only the ulp above the boundary is liquidatable
    for chunk in (1, 3, 8, 16, 1_000):
        got = _collateral_at_risk(
            batch.pos_collateral, batch.pos_debt, batch.pos_threshold_bps, stressed, batch.pos_count, chunk
        )
        np.testing.assert_allclose(got, whole, rtol=1e-12)
    want = [I.positions_at_risk(i.positions, 1.0, 1_000) for i in inputs]
    np.testing.assert_allclose(whole, want, rtol=1e-12)
    assert_same(inputs, [I.Settings()] * len(inputs), I.compute_batch(batch, I.Settings()))


def test_batch__no_books_no_history_no_positions_anywhere():
    inputs = [I.MarketInputs(now=NOW, venue_price=1.0), I.MarketInputs(now=NOW)]
    out = I.compute_batch(I.MarketBatch.from_inputs(inputs), I.Settings())
    assert_same(inputs, [I.Settings()] * 2, out)
    assert all(v is None for v in out.as_dict(1).values())
    batch = I.MarketBatch.from_inputs(inputs)
    with pytest.raises(ValueError, match="pos_count sums to 3 but the position arrays hold 0"):
        I.compute_batch(dataclasses.replace(batch, pos_count=np.array([1, 2])), I.Settings())


def _fixture_market(names: list[str], now: float) -> I.MarketInputs:
    quotes, books = [], []
    for name in names:
        ex = recorded(name)
        t = ex.fetch_ticker("USDE/USDT")
        quotes.append(I.Quote(name, (t["bid"] + t["ask"]) / 2, t["timestamp"] / 1000))
        books.append(I.OrderBook.from_ccxt(ex.fetch_order_book("USDE/USDT"), name))
    positions = I.Positions(np.full(100, 1_000.0), np.full(100, 850.0), np.full(100, 9_000.0))
    return I.MarketInputs(
        now=now,
        quotes=quotes,
        books=books,
        calm_depth_usd=8e6,
        positions=positions,
        open_interest=[I.OpenInterest("oi", 3e8, now)],
    )


@pytest.mark.fault
def test_batch__bad_data_reads_as_unknown_never_as_a_crash():
    """Rows: clean; the same plus a wild source and a wild book; all stale; garbage prices and books.
    The wild source moves nothing; stale and garbage rows are unknown (None), which never attests."""
    clean = _fixture_market(["binance_usde_calm", "bybit_usde_calm", "okx_usde_calm"], NOW)
    wild_book = I.OrderBook("wild", np.array([[0.41, 1e3]]), np.array([[0.40, 1e3]]), NOW)  # crossed
    wild = I.MarketInputs(
        **{
            **clean.__dict__,
            "quotes": [*clean.quotes, I.Quote("wild", 0.41, NOW)],
            "books": [*clean.books, wild_book],
        }
    )
    stale = _fixture_market(["binance_usde_crash"], NOW + 86_400)
    stale = I.MarketInputs(**{**stale.__dict__, "open_interest": [I.OpenInterest("oi", 3e8, NOW)]})
    garbage = I.MarketInputs(
        now=NOW,
        venue_price=0.0,
        quotes=[I.Quote("a", float("nan"), NOW), I.Quote("b", 0.0, NOW), I.Quote("c", -1.0, NOW)],
        books=[
            I.OrderBook("nan", np.array([[np.nan, 1.0]]), np.array([[1.0, 1.0]]), NOW),
            I.OrderBook("empty", np.zeros((0, 2)), np.array([[1.0, 1.0]]), NOW),
        ],
        calm_depth_usd=8e6,
        open_interest=[I.OpenInterest("oi", float("nan"), NOW)],
        positions=clean.positions,
    )
    inputs = [clean, wild, stale, garbage]
    out = I.compute_batch(I.MarketBatch.from_inputs(inputs), I.Settings())
    assert_same(inputs, [I.Settings()] * 4, out)
    assert np.isfinite(out.lce_bps[0])
    for key in ("index_price", "cvd_bps", "rl_bps", "si_bps", "lce_bps"):
        assert getattr(out, key)[1] == pytest.approx(getattr(out, key)[0], nan_ok=True), key
    assert out.quote_rejected[1, 3] and out.book_rejected[1, 3]
    for row in (2, 3):
        for key in ("index_price", "cvd_bps", "rl_bps", "si_bps", "lce_bps"):
            assert math.isnan(getattr(out, key)[row]), (row, key)
