"""The actors' decisions, priced without a chain: the liquidator's sale, the arbitrageur, the watchers."""

from __future__ import annotations

import pytest

from replay.actors.arbitrageur import EDGE_BPS, plan_arbitrage
from replay.actors.liquidator import plan_sale
from replay.actors.markets import ExternalBook, Pool, weighted_median
from replay.actors.watchers import KILL_SWITCH_REACTION_S, KillSwitch, SingleThreshold


def pool_at(price: float, liquidity_usd: float = 2_000_000, fee: float = 0.0004) -> Pool:
    half = liquidity_usd / 2
    return Pool(half / price, half, fee)


def test_pool__collateral_to_a_price_lands_there():
    pool = pool_at(1.0)
    after, _ = pool.sell(pool.collateral_to(0.9))
    assert after.spot == pytest.approx(0.9, rel=1e-3)  # the fee stays in the pool: a hair above


def test_pool__debt_to_a_price_lands_there():
    pool = pool_at(0.7)
    after, _ = pool.buy(pool.debt_to(0.95))
    assert after.spot == pytest.approx(0.95, rel=1e-3)


def test_external_book__linear_impact_and_proceeds():
    book = ExternalBook(mid=1.0, depth_1pct_usd=1_000_000)
    assert book.collateral_to(0.99) == pytest.approx(1_000_000)
    proceeds = book.sell(1_000_000)
    assert book.price == pytest.approx(0.99)
    assert proceeds == pytest.approx(995_000)  # the average of 1.00 and 0.99


def test_sale__a_crashed_pool_gets_nothing_and_the_external_market_the_rest_within_the_limit():
    pool, book = pool_at(0.65), ExternalBook(mid=0.999, depth_1pct_usd=1_000_000)
    sale = plan_sale(5_000_000, pool, book, max_slippage_bps=100)
    assert sale.to_pool == 0
    assert sale.limit == pytest.approx(0.999 * 0.99)
    assert sale.to_external == pytest.approx(book.collateral_to(sale.limit))  # the rest waits


def test_sale__splits_so_both_venues_end_at_the_same_marginal_price():
    pool, book = pool_at(1.0), ExternalBook(mid=1.0, depth_1pct_usd=1_000_000)
    sale = plan_sale(500_000, pool, book, max_slippage_bps=100)
    assert sale.to_pool + sale.to_external == pytest.approx(500_000, rel=1e-6)
    after, _ = pool.sell(sale.to_pool)
    book.sell(sale.to_external)
    assert after.spot == pytest.approx(book.price, rel=1e-3)
    assert book.price > sale.limit


def test_sale__never_below_the_band_on_the_pool():
    pool, book = pool_at(1.0), ExternalBook(mid=1.0, depth_1pct_usd=1)
    sale = plan_sale(10_000_000, pool, book, max_slippage_bps=5_000, pool_floor=0.95)
    assert pool.sell(sale.to_pool)[0].spot >= 0.95 * (1 - 1e-3)


def test_sale__a_closed_pool_sells_only_outside():
    sale = plan_sale(10, None, ExternalBook(mid=1.0, depth_1pct_usd=1_000_000), max_slippage_bps=100)
    assert (sale.to_pool, sale.to_external) == (0.0, pytest.approx(10))


def test_arbitrage__buys_a_pool_below_the_market_up_to_its_capital():
    pool = pool_at(0.65)
    trade = plan_arbitrage(pool, 0.999, debt=50_000, collateral=0, band=None)
    assert trade is not None and not trade.sell_collateral and trade.amount == 50_000
    rich = plan_arbitrage(pool, 0.999, debt=10**9, collateral=0, band=None)
    assert pool.buy(rich.amount)[0].spot == pytest.approx(0.999 * (1 - pool.fee), rel=1e-3)


def test_arbitrage__sells_what_it_holds_into_a_pool_above_the_market():
    trade = plan_arbitrage(pool_at(1.05), 1.0, debt=0, collateral=1_000, band=None)
    assert trade is not None and trade.sell_collateral and trade.amount == 1_000


def test_arbitrage__leaves_a_pool_within_fee_and_edge_alone():
    pool = pool_at(1.0)
    inside = 1 - (pool.fee + EDGE_BPS / 10_000) / 2
    assert plan_arbitrage(pool_at(inside), 1.0, debt=10**6, collateral=10**6, band=None) is None


def test_weighted_median__a_heavy_broken_venue_moves_it():
    assert weighted_median([(0.65, 1), (0.999, 1), (1.0, 1)]) == 0.999
    assert weighted_median([(0.65, 3), (0.999, 1), (1.0, 1)]) == 0.65
    with pytest.raises(ValueError):
        weighted_median([(1.0, 0)])


def test_single_threshold__trips_at_20_percent_below_the_hour_high_and_resumes_an_hour_later():
    watcher = SingleThreshold()
    assert watcher.decide(0, 1.0, 1.0) is None
    assert watcher.decide(12, 0.81, 1.0) is None
    assert watcher.decide(24, 0.79, 1.0) == "trip"
    assert watcher.decide(3_000, 0.5, 1.0) is None
    assert watcher.decide(3_624, 1.0, 1.0) == "resume"


def test_kill_switch__pauses_after_its_reaction_time_and_unpauses_the_same_way():
    watcher = KillSwitch()
    assert watcher.decide(0, 0.94, 1.0) is None
    assert watcher.decide(KILL_SWITCH_REACTION_S - 12, 0.94, 1.0) is None
    assert watcher.decide(KILL_SWITCH_REACTION_S, 0.90, 1.0) == "trip"
    assert watcher.decide(KILL_SWITCH_REACTION_S + 12, 0.995, 1.0) is None
    assert watcher.decide(KILL_SWITCH_REACTION_S + 24, 0.90, 1.0) is None  # not back yet: restart
    assert watcher.decide(KILL_SWITCH_REACTION_S + 36, 0.995, 1.0) is None
    assert watcher.decide(2 * KILL_SWITCH_REACTION_S + 36, 0.995, 1.0) == "resume"
