"""Sources: ccxt-shaped recorded fixtures, replayed scenario series, positions files (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from keeper import indicators as I
from keeper.config import MarketSettings
from keeper.sources import CcxtSource, PositionsFileSource, ReplaySource, Series, make_exchange, merge
from tests.keeper.conftest import recorded

NOW = 1_760_126_400.0


def market(*exchanges, perp=True):
    return MarketSettings(
        id=3,
        name="usde",
        cex=[
            {
                "exchange": e,
                "symbol": "USDE/USDT",
                "perp_symbol": "USDE/USDT:USDT" if perp else None,
                "calm_depth_usd": 4e6,
            }
            for e in exchanges
        ],
    )


def test_ccxt__collects_ticker_book_perp_and_open_interest():
    ex = recorded("binance_usde_calm")
    obs = CcxtSource([market("binance")], exchanges={"binance": ex}).collect([3], NOW)[3]
    assert [q.source for q in obs.quotes] == ["binance:USDE/USDT"]
    assert obs.quotes[0].price == pytest.approx(1.0002) and obs.quotes[0].timestamp == NOW
    assert obs.books[0].bids.shape[1] == 2 and obs.books[0].bids[0, 0] < obs.books[0].asks[0, 0]
    assert obs.open_interest[0].value_usd == pytest.approx(310_000_000 * 1.0002)
    assert obs.perp_quotes[0].price == pytest.approx(1.0003)
    assert obs.calm_depth_usd == 4e6 and not obs.errors
    assert ("order_books", "USDE/USDT") in ex.calls


@pytest.mark.fault
def test_ccxt__failure_recorded_not_raised():
    ex = recorded("okx_usde_broken")
    obs = CcxtSource([market("okx")], exchanges={"okx": ex}).collect([3], NOW)[3]
    assert obs.quotes and obs.books  # what answered is kept
    assert obs.open_interest == [] and "NetworkError" in obs.errors[0]


def test_ccxt__unknown_symbol_recorded():
    ex = recorded("binance_usde_calm")
    m = MarketSettings(id=0, name="x", cex=[{"exchange": "binance", "symbol": "DOGE/USDT"}])
    obs = CcxtSource([m], exchanges={"binance": ex}).collect([0], NOW)[0]
    assert not obs.quotes and len(obs.errors) == 2 and "BadSymbol" in obs.errors[0]


def test_ccxt__restamped_recording_is_fresh():
    ex = recorded("binance_usde_calm", restamp=lambda: NOW + 1_000)
    obs = CcxtSource([market("binance")], exchanges={"binance": ex}).collect([3], NOW + 1_000)[3]
    assert obs.quotes[0].timestamp == NOW + 1_000 and obs.books[0].timestamp == NOW + 1_000


def test_make_exchange__real_ccxt_client_without_network():
    ex = make_exchange("binance", timeout_s=3)
    assert ex.id == "binance" and ex.timeout == 3_000 and ex.enableRateLimit
    with pytest.raises(ValueError, match="unknown ccxt exchange"):
        make_exchange("no-such-exchange")


def test_merge__concatenates_and_sums_calm_depth():
    a = CcxtSource([market("binance")], exchanges={"binance": recorded("binance_usde_calm")}).collect(
        [3], NOW
    )[3]
    b = CcxtSource([market("bybit")], exchanges={"bybit": recorded("bybit_usde_calm")}).collect([3], NOW)[3]
    m = merge([a, b])
    assert len(m.quotes) == 2 and len(m.books) == 2 and m.calm_depth_usd == 8e6


# ---------------------------------------------------------------- replay


def test_series__three_forms(tmp_path):
    (tmp_path / "px.csv").write_text("time_utc,close\n2025-10-10 20:00:00,1.0\n2025-10-10 20:01:00,0.9\n")
    start = I.Quote("x", 1, 0).timestamp  # 0
    s = Series.parse({"points": [[0, 1.0], [100, 0.5]]}, tmp_path, start)
    assert s.at(50) == pytest.approx(0.75) and s.at(1_000) == 0.5 and s.at(-5) == 1.0
    assert Series.parse({"constant": 2.0}, tmp_path, 0).at(123) == 2.0
    from keeper.sources.replay import parse_time

    t0 = parse_time("2025-10-10T20:00:00Z")
    c = Series.parse({"csv": "px.csv", "time": "time_utc", "value": "close"}, tmp_path, t0)
    assert c.at(0) == 1.0 and c.at(59) == 1.0 and c.at(60) == 0.9 and c.at(10_000) == 0.9


@pytest.mark.bad_input
def test_series__bad_forms_name_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"series.cex\[0\].mid: unknown series form"):
        ReplaySource({"series": {"cex": [{"name": "b", "mid": {"linear": 1}}]}}, tmp_path)
    with pytest.raises(ValueError, match="file .* not found"):
        Series.parse({"csv": "missing.csv", "time": "t", "value": "v"}, tmp_path, 0, "series.venue_price")


def test_replay__serves_books_quotes_and_open_interest(tmp_path):
    scenario = {
        "name": "t",
        "start": "2025-10-10T20:00:00Z",
        "duration_s": 10_000,
        "series": {
            "cex": [
                {
                    "name": "binance",
                    "mid": {"points": [[0, 1.0], [4_800, 0.66]]},
                    "depth_1pct_usd": {"points": [[0, 8_000_000], [4_800, 300_000]]},
                }
            ],
            "open_interest_usd": {"points": [[0, 900_000_000], [5_400, 400_000_000]]},
        },
    }
    src = ReplaySource(scenario, tmp_path, market_id=2)
    src.set_time(0)
    calm = src.collect([2], 1_000.0)[2]
    assert calm.quotes[0].price == 1.0 and calm.calm_depth_usd == 8_000_000
    assert I.book_depth(calm.books[0], 100, "both") == pytest.approx(8_000_000, rel=1e-6)
    assert calm.open_interest[0].value_usd == 900_000_000
    src.set_time(4_800)
    crash = src.collect([2], 2_000.0)[2]
    assert crash.quotes[0].price == pytest.approx(0.66) and crash.quotes[0].timestamp == 2_000.0
    ind = I.compute_market(
        I.MarketInputs(
            now=2_000.0,
            venue_price=1.0,
            quotes=crash.quotes,
            books=crash.books,
            calm_depth_usd=crash.calm_depth_usd,
            open_interest=crash.open_interest,
        ),
        I.Settings(),
    )
    assert ind.rl_bps == pytest.approx(300_000 / 8_000_000 * 10_000, rel=1e-6)
    assert ind.cvd_bps == pytest.approx((1.0 - 0.66) / 0.66 * 10_000, rel=1e-6)
    assert src.collect([0], 0.0) == {}


def test_positions_file__loaded_and_cached(tmp_path):
    f = tmp_path / "pos.csv"
    f.write_text("collateral,debt,liquidation_threshold_bps\n100,80,9000\n100,87,9000\n")
    obs = PositionsFileSource({0: f}).collect([0, 1], 0.0)
    assert list(obs) == [0]
    np.testing.assert_array_equal(obs[0].positions.debt, [80, 87])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert "needs the columns" in PositionsFileSource({0: bad}).collect([0], 0.0)[0].errors[0]
