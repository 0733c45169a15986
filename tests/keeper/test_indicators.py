"""Indicators: closed-form checks, recorded books, and bad data that must not look like a crash."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keeper import indicators as I
from tests.keeper.conftest import recorded

NOW = 1_760_126_400.0  # the calm fixtures' timestamp


def q(source, price, age=0.0, weight=1.0):
    return I.Quote(source, price, NOW - age, weight)


def book_of(name, symbol="USDE/USDT"):
    return I.OrderBook.from_ccxt(recorded(name).fetch_order_book(symbol), name)


# ---------------------------------------------------------------- reference index and CVD


def test_index__weighted_mean_of_agreeing_sources():
    idx = I.reference_index(
        [q("a", 1.0002, weight=3), q("b", 1.0001), q("c", 0.9999)], NOW, max_age_s=30, outlier_bps=200
    )
    assert idx.price == pytest.approx((3 * 1.0002 + 1.0001 + 0.9999) / 5)
    assert idx.used == ("a", "b", "c") and not idx.rejected


def test_index__one_outlier_source_rejected():
    idx = I.reference_index([q("a", 1.0), q("b", 1.0001), q("bad", 0.5)], NOW, max_age_s=30, outlier_bps=200)
    assert idx.price == pytest.approx(1.00005)
    assert "outlier" in idx.rejected["bad"]


@pytest.mark.parametrize(
    "bad, reason",
    [
        (q("x", float("nan")), "bad price"),
        (q("x", 0.0), "bad price"),
        (q("x", -1.0), "bad price"),
        (q("x", float("inf")), "bad price"),
        (q("x", 1.0, age=31), "stale (31 s old, limit 30 s)"),
        (q("x", 1.0, age=-60), "in the future"),
        (I.Quote("x", 1.0, float("nan")), "no timestamp"),
    ],
)
def test_index__bad_quote_rejected(bad, reason):
    idx = I.reference_index([q("a", 1.0), bad], NOW, max_age_s=30, outlier_bps=200)
    assert idx.price == 1.0
    assert reason in idx.rejected["x"]


def test_index__two_disagreeing_sources_give_no_price():
    idx = I.reference_index([q("a", 1.0), q("b", 0.6)], NOW, max_age_s=30, outlier_bps=200)
    assert idx.price is None and len(idx.rejected) == 2


def test_index__below_min_sources_gives_no_price():
    idx = I.reference_index([q("a", 1.0)], NOW, max_age_s=30, outlier_bps=200, min_sources=2)
    assert idx.price is None


def test_deviation__vectorised():
    assert I.deviation_bps(0.97, 1.0) == pytest.approx(300)
    np.testing.assert_allclose(I.deviation_bps(np.array([0.9, 1.1, 1.0]), 1.0), [1000, 1000, 0])


# ---------------------------------------------------------------- order books


def test_book__depth_within_band_of_recorded_book():
    book = book_of("binance_usde_calm")
    # the fixture holds $4.2M within 1% under the mid (bid side), a little more on the ask side
    assert I.book_depth(book, 100, "bid") == pytest.approx(4_200_000, rel=0.02)
    assert I.book_depth(book, 100, "both") > I.book_depth(book, 100, "bid")
    assert I.book_depth(book, 10, "bid") < I.book_depth(book, 100, "bid")


def test_book__vwap_walks_levels():
    book = I.OrderBook(
        "t", np.array([[0.99, 100.0], [0.98, 100.0], [0.97, 1000.0]]), np.array([[1.01, 100.0]]), NOW
    )
    # mid 1.0: selling $150 = 150 base units: 100 at 0.99 and 50 at 0.98
    assert I.book_sell_vwap(book, 150.0) == pytest.approx((99 + 49) / 150)
    assert I.book_slippage_bps(book, 150.0) == pytest.approx((1 - 148 / 150) * 10_000)
    assert I.book_sell_vwap(book, 5_000.0) is None
    assert I.book_slippage_bps(book, 5_000.0) == 10_000


def test_book__crash_fixture_is_thin_and_slips():
    calm, crash = book_of("binance_usde_calm"), book_of("binance_usde_crash")
    assert I.book_depth(crash, 100, "both") < I.book_depth(calm, 100, "both") / 20
    assert I.book_slippage_bps(calm, 1_000_000) < 50
    assert I.book_slippage_bps(crash, 1_000_000) > 500


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda b: I.OrderBook(b.source, b.bids, b.asks, NOW - 120), "stale"),
        (lambda b: I.OrderBook(b.source, b.bids[:0], b.asks, NOW), "empty side"),
        (lambda b: I.OrderBook(b.source, b.bids * np.array([1.0, np.nan]), b.asks, NOW), "non-finite"),
        (lambda b: I.OrderBook(b.source, b.asks[::-1] * 1.01, b.asks, NOW), "crossed book"),
    ],
)
def test_book__bad_book_rejected(mutate, reason):
    book = mutate(book_of("binance_usde_calm"))
    assert reason in I.book_problem(book, NOW, 30)


# ---------------------------------------------------------------- pools


def test_pool__depth_moves_price_by_band():
    x, y, band = 1_000_000.0, 1_000_000.0, 100
    dy = I.pool_depth(x, y, band)
    k = x * y
    y2 = y - dy
    assert (y2 * y2 / k) == pytest.approx(0.99)  # new price y'/x' = y'^2/k


def test_pool__exec_price_and_slippage_vectorised():
    x = np.array([1e6, 1e7])
    y = np.array([1e6, 1e7])
    s = I.pool_slippage_bps(x, y, 1e5)
    # selling 10% of the reserve: exec = y/(x+dx) = 1/1.1
    assert s[0] == pytest.approx((1 - 1 / 1.1) * 10_000)
    assert s[1] < s[0]
    assert I.pool_slippage_bps(1e6, 1e6, 1e5, fee_bps=30) > s[0]


# ---------------------------------------------------------------- R_L, V_P, basis, LCE


def test_depth_ratio__against_median_of_calm_samples():
    assert I.depth_ratio_bps(2e6, [8e6, 9e6, 7e6, 1e12]) == pytest.approx(2e6 / 8.5e6 * 10_000)
    assert I.depth_ratio_bps(2e6, [float("nan"), 0.0]) is None


def test_velocity__largest_drop_in_window():
    t = np.array([0, 60, 120, 240, 290, 300.0])
    p = np.array([1.2, 1.0, 0.99, 0.98, 0.95, 0.90])
    assert I.price_velocity_bps(t, p, now=300, window_s=300) == pytest.approx(2500)
    assert I.price_velocity_bps(t, p, now=300, window_s=200) == pytest.approx(0.09 / 0.99 * 10_000)
    assert I.price_velocity_bps(t, np.array([1, 1, 1, 1, 1, float("nan")]), 300, 300) == 0.0


def test_basis__signed():
    assert I.basis_bps(0.7025, 0.6567) == pytest.approx((0.7025 / 0.6567 - 1) * 10_000)
    assert I.basis_bps(float("nan"), 1.0) is None


def test_lce__positions_within_move():
    pos = I.Positions(
        np.array([100.0, 100.0, 100.0, 0.0]),
        np.array([80.0, 87.0, 95.0, 10.0]),
        np.array([9_000.0, 9_000.0, 9_000.0, 9_000.0]),
    )
    # at price 1: HF = 90/80, 90/87, 90/95; a 5% fall (85.5) liquidates the last two
    assert I.positions_at_risk(pos, 1.0, 500) == pytest.approx(200.0)
    assert I.positions_at_risk(pos, 1.0, 1_500) == pytest.approx(300.0)


def test_lce__open_interest_by_leverage():
    shares = {2.0: 0.3, 5.0: 0.4, 10.0: 0.2, 25.0: 0.1}
    # 10% move with 0.5% maintenance margin reaches 10x (9.5%) and 25x (3.5%) longs
    assert I.open_interest_at_risk(100e6, 1_000, shares, 0.5, 50) == pytest.approx(100e6 * 0.5 * 0.3)
    assert I.lce_bps(15e6, 5e6) == pytest.approx(30_000)
    assert I.lce_bps(15e6, 0.0) is None


# ---------------------------------------------------------------- one market, all together


def _inputs(exchanges, now=NOW, **kw):
    from keeper.config import MarketSettings
    from keeper.sources import CcxtSource

    market = MarketSettings(
        id=0,
        name="usde",
        cex=[
            {"exchange": e.id, "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT", "calm_depth_usd": 8e6}
            for e in exchanges
        ],
    )
    obs = CcxtSource([market], exchanges={e.id: e for e in exchanges}).collect([0], now)[0]
    return I.MarketInputs(
        now=now,
        venue_price=kw.get("venue_price", 1.0),
        venue_depth_usd=8e6,
        quotes=obs.quotes,
        books=obs.books,
        calm_depth_usd=obs.calm_depth_usd / len(exchanges),
        perp_quotes=obs.perp_quotes,
        open_interest=obs.open_interest,
    ), obs


def test_compute_market__calm_fixtures():
    inp, _ = _inputs([recorded("binance_usde_calm"), recorded("bybit_usde_calm"), recorded("okx_usde_calm")])
    ind = I.compute_market(inp, I.Settings())
    assert ind.index_price == pytest.approx(1.0001, abs=2e-4)
    assert ind.cvd_bps < 5 and ind.si_bps < 50 and not ind.rejected
    assert ind.basis_bps == pytest.approx(1, abs=1)
    assert ind.lce_bps is not None and ind.lce_bps > 0


def test_compute_market__outlier_and_broken_source_do_not_move_anything():
    good, _ = _inputs([recorded("binance_usde_calm"), recorded("bybit_usde_calm"), recorded("okx_usde_calm")])
    bad, obs = _inputs(
        [recorded("binance_usde_calm"), recorded("bybit_usde_calm"), recorded("okx_usde_broken")]
    )
    g, b = I.compute_market(good, I.Settings()), I.compute_market(bad, I.Settings())
    assert b.index_price == pytest.approx(g.index_price, abs=2e-4)
    assert "outlier" in b.rejected["okx:USDE/USDT"]
    assert b.cvd_bps < 5
    assert any("open interest" in e for e in obs.errors)


def test_compute_market__stale_everything_gives_unknown_not_critical():
    inp, _ = _inputs([recorded("binance_usde_crash")], now=1_760_132_640.0 + 3_600)
    ind = I.compute_market(inp, I.Settings())
    assert ind.index_price is None and ind.cvd_bps is None and ind.lce_bps is None and ind.si_bps is None
    assert all("stale" in why for why in ind.rejected.values())


def test_compute_market__crash_fixture_reads_as_crash():
    inp, _ = _inputs([recorded("binance_usde_crash")], now=1_760_132_640.0, venue_price=0.9999)
    ind = I.compute_market(inp, I.Settings())
    assert ind.index_price == pytest.approx(0.65675, abs=1e-3)
    assert ind.cvd_bps > 3_000 and ind.si_bps > 500 and ind.rl_bps < 2_000
    assert ind.basis_bps > 600
    assert ind.lce_bps > 10_000 and math.isfinite(ind.lce_bps)
