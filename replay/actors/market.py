"""The market's moves in a block, the same code in every world: the reference feeds (and the aggregated
feed a lending market may read), the market maker, the LP, governance's threshold changes, scripted
flows, the liquidator's sales, the arbitrageur and the DLP's reopening quote.

`MarketMoves` is a part of `replay.engine.Engine`: it reads and sends through the engine's batched reads
(`_read`) and transactions (`_tx`), and records into its `record`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from replay.actors.arbitrageur import plan_arbitrage
from replay.actors.liquidator import plan_sale
from replay.actors.markets import ExternalBook, Pool, weighted_median
from replay.world import FEED_DECIMALS, FEED_HEARTBEAT_S, WAD

NORMAL, HALTED, COOLDOWN, AUCTION = 1, 2, 4, 8
MARKET_FEE = 2_000 * 10**9  # the market's own moves go first in a block
# fees order the block: market moves, the liquidator's sale, the arbitrageur, the baselines' watcher
SALE_FEE, ARBITRAGE_FEE, WATCHER_FEE = MARKET_FEE - 1, MARKET_FEE - 2, MARKET_FEE - 3
FEED_DEVIATION = 0.0005  # a feed posts a new round when it moved 0.05%, or every half heartbeat
PRICE_TOLERANCE = 0.0005  # the market maker leaves the pool alone within 0.05% of the target
DEPTH_TOLERANCE = 0.03  # the LP leaves the depth alone within 3% of the target
DLP_QUOTE_SHARE = 0.01  # each side of the DLP's reopening quote, as a share of the pool's calm liquidity
DLP_QUOTE_SPREAD = 0.002  # the DLP bids 0.2% below the reference and offers 0.2% above
DLP_FUNDED_QUOTES = 3  # the DLP is funded at t = 0 for this many quotes on each side
EXTERNAL_DEPTH_SHARE = 0.05  # default external depth per 1%, as a share of the pool's calm liquidity


class MarketMoves:
    """The market's side of a step (see the module's docstring)."""

    # provided by the engine
    world: Any
    c: Any
    record: Any
    scenario: Any
    curves: Any
    wiring: Any
    to_sell: int
    feed_posts: list[tuple[float, float]]
    aggregator_post: tuple[float, float]
    dlp_quoted_trips: int
    lp_contributed_usd: float
    t0: int
    _now: float
    _read: Any
    _tx: Any
    _give: Any
    _source_price: Any

    def _post_feeds(self, t: float) -> None:
        wd = self.world
        for i, ((_, series), feed) in enumerate(zip(self.curves.reference, self.c.feeds, strict=True)):
            value = series.at(t)
            last_t, last = self.feed_posts[i]
            if abs(value / last - 1) > FEED_DEVIATION or t - last_t >= FEED_HEARTBEAT_S / 2:
                self._tx(
                    feed,
                    "set_answer",
                    round(value * 10**FEED_DECIMALS),
                    sender=wd.actors.governance,
                    fee=MARKET_FEE,
                )
                self.feed_posts[i] = (t, value)
        if self.c.aggregator_feed is not None:
            self._post_aggregator(t)

    def _post_aggregator(self, t: float) -> None:
        """The aggregated feed posts the weighted median of the venues as the last block showed them: the
        modelled pool (the venue that breaks) with its weight, each reference feed with 1."""
        spec = self.scenario.market.lending.aggregator
        venues = [(self._read(self.c.pool, "spot_price") / WAD, spec.venue_weight)]
        venues += [(series.at(t), 1.0) for _, series in self.curves.reference]
        value = weighted_median(venues)
        last_t, last = self.aggregator_post
        moved = last == 0 or abs(value / last - 1) * 10_000 > spec.deviation_bps
        if not moved and t - last_t < FEED_HEARTBEAT_S / 2:
            return
        self._tx(
            self.c.aggregator_feed,
            "set_answer",
            round(value * 10**FEED_DECIMALS),
            sender=self.world.actors.governance,
            fee=MARKET_FEE,
        )
        self.aggregator_post = (t, value)

    def _band(self) -> tuple[float, float] | None:
        """The pool's band limits, a hair inside (None without a band)."""
        if not self.wiring.band:
            return None
        lo, hi = self._read(self.c.pool, "band_limits")
        return lo / WAD * 1.0005, hi / WAD * 0.9995

    def _move_market(self, t: float, state: int) -> None:
        wd = self.world
        self._post_feeds(t)
        x, y = self._read(self.c.pool, "reserves")
        spot = (y / wd.debt_unit) / (x / wd.collateral_unit)
        target = self.curves.venue_price.at(t)
        pool_state = self._read(self.c.pool, "breaker_state")
        open_ = pool_state == NORMAL
        band = self._band()
        low, high = band if band is not None else (0.0, math.inf)
        reachable = min(max(target, low), high)
        if not open_ or reachable != target:  # the pool's rules keep it from the venue price
            self.record.divergence_max_bps = max(
                self.record.divergence_max_bps, abs(spot / target - 1) * 10_000
            )
        # 1. trade toward the venue price (x*y=k, fee on the input)
        if open_ and abs(reachable / spot - 1) > PRICE_TOLERANCE:
            fee = 1 - self._read(self.c.pool, "fee_bps") / 10_000
            k = x * y
            if reachable < spot:  # sell collateral: x' = sqrt(k / p)
                x_new = math.isqrt(int(k * wd.collateral_unit / (reachable * wd.debt_unit)))
                amount = int((x_new - x) / fee)
                self._ensure(self.c.collateral, wd.actors.market_maker, amount, "market_maker")
                self._swap(True, amount, wd.actors.market_maker)
                x, y = x_new, k // max(x_new, 1)
            else:  # buy collateral with debt: y' = sqrt(k p)
                y_new = math.isqrt(int(k * reachable * wd.debt_unit / wd.collateral_unit))
                amount = int((y_new - y) / fee)
                self._ensure(self.c.debt, wd.actors.market_maker, amount, "market_maker")
                self._swap(False, amount, wd.actors.market_maker)
                x, y = k // max(y_new, 1), y_new
        # 2. the LP follows the depth path (depth within a band is proportional to the debt reserve)
        ratio = self.curves.venue_depth_ratio.at(t)
        target_y = ratio * wd.calm_debt_reserve
        # the pool refuses deposits from COOLDOWN to the end of AUCTION: the LP refills after
        deposits_closed = pool_state in (COOLDOWN, AUCTION) and target_y > y
        if y > 0 and abs(target_y / y - 1) > DEPTH_TOLERANCE and not deposits_closed:
            x, y = self._follow_depth(target_y / y, x, y)
        # 3. governance and scripted flows
        for change in self.scenario.actors.governance:
            if t - self.scenario.block_time_s < change.t <= t:
                self._change_threshold(change, spot)
        for flow in self.scenario.actors.flows:
            if t - self.scenario.block_time_s < flow.t <= t and open_:
                x, y = self._flow(flow.sell, flow.usd, x, y)
        # 4. the model's own flows, on the pool as it now stands: the liquidator's sale, then arbitrage
        fee_share = self._read(self.c.pool, "fee_bps") / 10_000
        pool = Pool(x / wd.collateral_unit, y / wd.debt_unit, fee_share) if open_ and x and y else None
        book = ExternalBook(self._reference(t), self._external_depth_usd())
        if self.to_sell:
            pool = self._sell_seized(pool, book, low)
        if pool is not None and self.scenario.actors.arbitrageur.enabled:
            self._arbitrage(pool, book.mid, band)

    def _reference(self, t: float) -> float:
        """The external market's price: the reference feeds' median, as the scenario has them at t."""
        return float(np.median([s.at(t) for _, s in self.curves.reference]))

    def _external_depth_usd(self) -> float:
        depth = self.scenario.market.external.depth_1pct_usd
        return depth if depth is not None else self.scenario.market.pool.liquidity_usd * EXTERNAL_DEPTH_SHARE

    def _sell_seized(self, pool: Pool | None, book: ExternalBook, band_low: float) -> Pool | None:
        """The liquidator sells what it holds to the better of the pool and the external market, within
        its slippage limit; the rest waits for the next block. Returns the pool after its sale."""
        wd = self.world
        sale = plan_sale(
            self.to_sell / wd.collateral_unit,
            pool,
            book,
            self.scenario.actors.liquidator.max_slippage_bps,
            pool_floor=band_low,
        )
        to_pool = min(int(sale.to_pool * wd.collateral_unit), self.to_sell)
        to_external = min(int(sale.to_external * wd.collateral_unit), self.to_sell - to_pool)
        proceeds = 0.0
        if to_pool > 0 and pool is not None:
            self._swap(True, to_pool, wd.actors.liquidator, fee=SALE_FEE)
            pool, out = pool.sell(to_pool / wd.collateral_unit)
            proceeds += out
        if to_external > 0:  # the collateral leaves for the external market; its proceeds are counted
            self._tx(
                self.c.collateral,
                "transfer",
                wd.actors.external,
                to_external,
                sender=wd.actors.liquidator,
                fee=SALE_FEE,
            )
            proceeds += book.sell(to_external / wd.collateral_unit)
        self.to_sell -= to_pool + to_external
        self.record.sales["to_pool"] += to_pool / wd.collateral_unit
        self.record.sales["to_external"] += to_external / wd.collateral_unit
        self.record.sales["proceeds"] += proceeds
        return pool

    def _arbitrage(self, pool: Pool, external_price: float, band: tuple[float, float] | None) -> None:
        wd = self.world
        who = wd.actors.arbitrageur
        debt = self._read(self.c.debt, "balanceOf", who) / wd.debt_unit
        collateral = self._read(self.c.collateral, "balanceOf", who) / wd.collateral_unit
        trade = plan_arbitrage(pool, external_price, debt, collateral, band)
        if trade is None:
            return
        unit = wd.collateral_unit if trade.sell_collateral else wd.debt_unit
        amount = int(trade.amount * unit * 0.999)  # a hair short of its whole balance or the band
        if amount > 0:
            self._swap(trade.sell_collateral, amount, who, fee=ARBITRAGE_FEE)
            self.record.arbitrage_trades += 1

    def _change_threshold(self, change: Any, spot: float) -> None:
        """Governance ramps the threshold; the record keeps what the same cut at once would have
        made liquidatable at the lending price of the moment (the abrupt-rule-change counterfactual)."""
        wd = self.world
        price = self._source_price()
        new_lt = change.liquidation_threshold_bps / 10_000
        old_lt = wd.lt_bps / 10_000
        hit = [
            (c, d)
            for c, d in self.positions.values()
            if d > 0 and c * price * old_lt >= d > c * price * new_lt
        ]
        self.record.rule_changes.append(
            {
                "t": change.t,
                "from_bps": wd.lt_bps,
                "to_bps": change.liquidation_threshold_bps,
                "ramp_s": change.ramp_s,
                "liquidatable_if_at_once": len(hit),
                "liquidatable_if_at_once_collateral_usd": round(sum(c for c, _ in hit) * price, 2),
            }
        )
        self._tx(
            self.c.lending,
            "set_liquidation_threshold",
            change.liquidation_threshold_bps,
            change.ramp_s,
            sender=wd.actors.governance,
            fee=MARKET_FEE,
        )

    def _follow_depth(self, factor: float, x: int, y: int) -> tuple[int, int]:
        """The LP scales the pool by `factor`; returns the reserves after."""
        wd = self.world
        shares = self._read(self.c.pool, "balanceOf", wd.actors.lp)
        supply = self._read(self.c.pool, "totalSupply")
        if factor < 1:
            burn = int(supply * (1 - factor))
            burn = min(burn, shares)
            if burn > 0:
                self._tx(self.c.pool, "remove_liquidity", burn, 0, 0, sender=wd.actors.lp, fee=MARKET_FEE)
                return x - x * burn // supply, y - y * burn // supply
            return x, y
        add_x, add_y = int(x * (factor - 1)), int(y * (factor - 1))
        self._ensure(self.c.collateral, wd.actors.lp, add_x, "lp")
        self._ensure(self.c.debt, wd.actors.lp, add_y, "lp")
        self._tx(self.c.pool, "add_liquidity", add_x, add_y, 0, 2**64, sender=wd.actors.lp, fee=MARKET_FEE)
        return x + add_x, y + add_y

    def _flow(self, sell: str, usd: float, x: int, y: int) -> tuple[int, int]:
        """A scripted trade; returns the reserves after."""
        wd = self.world
        fee = self._read(self.c.pool, "fee_bps") / 10_000
        pool = Pool(x / wd.collateral_unit, y / wd.debt_unit, fee)
        if sell == "collateral":
            amount = int(usd / pool.spot * wd.collateral_unit)
            self._ensure(self.c.collateral, wd.actors.flows, amount, "flows")
            self._swap(True, amount, wd.actors.flows)
            pool = pool.sell(amount / wd.collateral_unit)[0]
        else:
            amount = int(usd * wd.debt_unit)
            self._ensure(self.c.debt, wd.actors.flows, amount, "flows")
            self._swap(False, amount, wd.actors.flows)
            pool = pool.buy(amount / wd.debt_unit)[0]
        return int(pool.x * wd.collateral_unit), int(pool.y * wd.debt_unit)

    def _swap(self, sell_collateral: bool, amount: int, who: str, fee: int = MARKET_FEE) -> None:
        if amount > 0:
            self._tx(self.c.pool, "swap", sell_collateral, amount, 0, 2**64, sender=who, fee=fee)

    def _ensure(self, token: Any, who: str, amount: int, actor: str) -> None:
        """Mints what an actor lacks (the market maker and flows stand for the rest of the market; the LP
        for new liquidity) and counts it, at the fair price, as given to `actor`."""
        have = self._read(token, "balanceOf", who)
        if have < amount:
            missing = amount - have
            # At the fee of governance's feed posts sent before it, not above: anvil dropped a later nonce
            # of the same account that paid more, and the trade it funded then reverted.
            self._tx(token, "mint", who, missing, sender=self.world.actors.governance, fee=MARKET_FEE)
            unit = self.world.collateral_unit if token is self.c.collateral else self.world.debt_unit
            price = self.curves.fair_price.at(self._now - self.t0) if token is self.c.collateral else 1.0
            self._give(actor, missing / unit * price)
            if actor == "lp":
                self.lp_contributed_usd += missing / unit * price

    def _dlp_quote(self, state: int) -> None:
        """Once per halt the designated liquidity provider quotes the reopening auction both ways
        around the reference (the seed's priority channel: only DLPs may post while HALTED)."""
        wd = self.world
        if self.c.auction is None or state != HALTED or self.dlp_quoted_trips == len(self.record.trips):
            return
        self.dlp_quoted_trips = len(self.record.trips)
        reference = self._read(self.c.oracle, "latest")[0] / WAD
        amount = int(
            self.scenario.market.pool.liquidity_usd * DLP_QUOTE_SHARE / reference * wd.collateral_unit
        )
        bid, offer = reference * (1 - DLP_QUOTE_SPREAD), reference * (1 + DLP_QUOTE_SPREAD)
        # what it holds bounds each side (it was funded at t = 0; an earlier auction may have used some)
        debt_held = self._read(self.c.debt, "balanceOf", wd.actors.dlp)
        amount_bid = min(amount, int(debt_held / 1.001 / bid / wd.debt_unit * wd.collateral_unit))
        amount = min(amount, self._read(self.c.collateral, "balanceOf", wd.actors.dlp))
        self._tx(
            self.c.auction,
            "post_order",
            True,
            int(bid * WAD),
            amount_bid,
            sender=wd.actors.dlp,
            fee=MARKET_FEE,
        )
        self._tx(
            self.c.auction,
            "post_order",
            False,
            int(offer * WAD),
            amount,
            sender=wd.actors.dlp,
            fee=MARKET_FEE,
        )
