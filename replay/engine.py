"""The replay loop: one anvil block per scenario step, real contracts, the real keeper.

Each step (block_time_s of scenario time) builds one block, with automine off:

1. the market moves (highest fees, so first in the block): each reference feed posts a new round
   when it moved, the market maker trades the pool toward `venue_price` (within the pool's own
   rules: nothing while it is closed, never past its price band), the LP adds or removes liquidity
   so the pool's depth follows `venue_depth_ratio`, scripted `flows` trade, and the liquidator
   sells what it seized earlier;
2. the protection acts on what the last block showed: the keeper's `cycle()` (composite, with the
   scenario's CEX series and open interest through its replay source, and the borrowers' positions),
   or a baseline's watcher;
3. the liquidator liquidates every position the pending block shows unhealthy (it simulates against
   the block's earlier transactions, as searchers do; lowest fees, so last);
4. the block is mined at the step's timestamp and its events are recorded.

Anvil orders a block by max fee, then by arrival, so each actor's fee sets its place whenever it
sends. Round trips are few (docs/replay-performance.md): after a block is mined, one JSON-RPC batch
fetches its events and header, everything the record and the next step read at "latest" (cached
until the next block), the keeper's per-block reads (its transport answers from them,
replay/transport.py) and sets the next block's timestamp. Nobody pokes the breaker: as in production,
the guarded pool's own block starts give V_P and the calm-depth seed the baseline. The liquidator's
reads of the pending block and its health factors are one batch each.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests
from eth_utils import event_abi_to_log_topic
from tqdm import tqdm
from web3 import Web3
from web3._utils.method_formatters import log_entry_formatter

from devchain import Anvil, dev_key
from keeper.config import CexVenue, KeeperSettings, LceModel, MarketSettings
from keeper.indicators import Positions
from keeper.runner import Keeper
from keeper.sources.base import Observations
from keeper.sources.replay import ReplaySource
from replay import population
from replay.calls import Calls, RpcError, batch
from replay.scenario import BorrowersFile, Curves, Scenario
from replay.transport import PrefetchingProvider
from replay.world import FEED_DECIMALS, FEED_HEARTBEAT_S, WAD, World, build

NORMAL, HALTED, COOLDOWN, AUCTION = 1, 2, 4, 8
GAS = 3_000_000
MARKET_FEE = 2_000 * 10**9  # the market's own moves go first in a block
MARKET_TIP = 10**9
LIQUIDATOR_TIP = 10**9
FEED_DEVIATION = 0.0005  # a feed posts a new round when it moved 0.05%, or every half heartbeat
PRICE_TOLERANCE = 0.0005  # the market maker leaves the pool alone within 0.05% of the target
DEPTH_TOLERANCE = 0.03  # the LP leaves the depth alone within 3% of the target
DLP_QUOTE_SHARE = 0.01  # each side of the DLP's reopening quote, as a share of the pool's calm liquidity
DLP_QUOTE_SPREAD = 0.002  # the DLP bids 0.2% below the reference and offers 0.2% above
REASONS = {1: ("A", "cvd+depth"), 2: ("B", "velocity+slippage+lce"), 3: ("guardian", "guardian")}


@dataclass
class Liquidation:
    t: float
    block: int
    borrower: str
    repaid: float  # debt tokens
    seized: float  # collateral tokens
    debt_before: float
    collateral_before: float
    threshold_bps: int  # the liquidation threshold the market applied (a ramp moves it)
    fair_price: float


@dataclass
class Record:
    """Everything the result is computed from."""

    blocks: int = 0
    trips: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    rule_changes: list[dict[str, Any]] = field(default_factory=list)
    liquidations: list[Liquidation] = field(default_factory=list)
    opened: dict[str, tuple[float, float]] = field(
        default_factory=dict
    )  # borrower -> (collateral, debt) at t = 0
    written_off: float = 0.0  # debt the lending market wrote off as bad debt (debt tokens)
    auctions: list[dict[str, Any]] = field(default_factory=list)  # reopening auctions settled
    halted_s: float = 0.0
    states: list[tuple[float, int]] = field(default_factory=list)  # (t, breaker state) per block
    prices: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, venue, pool, reference
    divergence_max_bps: float = 0.0  # venue vs pool while the pool could not follow


@dataclass
class _Calls:
    """The world's contracts as raw calls (see replay/calls.py)."""

    pool: Calls
    lending: Calls
    oracle: Calls
    breaker: Calls | None
    collateral: Calls
    debt: Calls
    feeds: list[Calls]
    auction: Calls | None

    @classmethod
    def of(cls, wd: World) -> _Calls:
        w3 = wd.w3
        return cls(
            pool=Calls(w3, wd.pool),
            lending=Calls(w3, wd.lending),
            oracle=Calls(w3, wd.oracle),
            breaker=Calls(w3, wd.breaker) if wd.breaker is not None else None,
            collateral=Calls(w3, wd.collateral),
            debt=Calls(w3, wd.debt),
            feeds=[Calls(w3, f) for f in wd.feeds],
            auction=Calls(w3, wd.auction) if wd.auction is not None else None,
        )


class PositionsSource:
    """The borrowers' positions as the keeper's LCE input (the engine tracks them from events)."""

    name = "positions"

    def __init__(self, book: dict[str, list[float]], lt_bps: int, market_id: int) -> None:
        self.book, self.lt, self.market_id = book, lt_bps, market_id

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        if self.market_id not in market_ids:
            return {}
        arr = np.array(list(self.book.values()), dtype=float).reshape(-1, 2)
        positions = Positions(arr[:, 0], arr[:, 1], np.full(len(arr), float(self.lt)))
        return {self.market_id: Observations(positions=positions)}


class Engine:
    def __init__(
        self,
        scenario: Scenario,
        curves: Curves,
        base_dir: Path,
        protection: str,
        *,
        progress: bool = True,
        params: dict[str, int] | None = None,
    ) -> None:
        self.scenario, self.curves, self.base_dir = scenario, curves, base_dir
        self.protection = protection
        self.params = params or {}  # breaker parameter overrides (keeper.params names)
        self.progress = progress
        self.record = Record()
        self.anvil: Anvil | None = None
        self.world: World | None = None
        self.keeper: Keeper | None = None
        self.t0 = 0
        # engine-side bookkeeping
        self.positions: dict[str, list[float]] = {}  # borrower -> [collateral, debt] in whole tokens
        self.to_sell = 0  # seized collateral the liquidator still has to sell (raw units)
        self.watch: deque[tuple[float, float]] = deque()  # (t, lending price source) for single-threshold
        self.first_source_price: float | None = None
        self.baseline_tripped_at: float | None = None
        self.kill_switched = False
        self.feed_posts: list[tuple[float, float]] = []  # last (t, value) per feed
        self.lp_contributed_usd = 0.0
        self._decoders: dict[tuple[str, bytes], tuple[str, Any]] = {}  # (address, topic0) -> event
        # Reads at "latest" since the last mined block: the state they read cannot change before the next
        # one is mined, so each is asked once, most of them in the batch that follows a block (`_observe`).
        self._latest: dict[tuple[str, str, tuple[Any, ...]], Any] = {}
        self._head = 0  # the number of the last mined block
        self._head_block: dict[str, Any] | None = None  # its header, once read
        self.keeper_transport: PrefetchingProvider | None = None
        self.dlp_quoted_trips = 0  # trips the DLP has quoted the reopening auction for
        self._pool_sent = False  # the engine sent the pool a transaction in this block
        self._keeper_sends = 0  # the keeper's sends before this block's cycle
        # the highest liquidation threshold the lending market can apply (a ramp moves between its ends)
        self._highest_threshold_bps = max(
            [scenario.market.lending.liquidation_threshold_bps]
            + [c.liquidation_threshold_bps for c in scenario.actors.governance]
        )

    # ------------------------------------------------------------ set-up

    def borrowers(self, fair: float) -> list[population.Borrower]:
        spec = self.scenario.market.borrowers
        if isinstance(spec, BorrowersFile):
            return population.read_file(spec, self.base_dir)
        return population.generate(spec, fair, self.scenario.market.lending.liquidation_threshold_bps)

    def setup(self) -> None:
        c = self.curves
        fair = c.fair_price.at(0)
        # The chain starts an hour before the scenario: deployments and positions are in place at t = 0.
        start = int(self.scenario.start_ts) if self.scenario.start else int(time.time())
        # A block holds every transaction of a step (they carry generous gas limits, not estimates). No past
        # states kept: the replay reads only the latest and the pending block, and a matrix runs many nodes.
        self.anvil = Anvil(
            gas_limit=2_000_000_000,
            base_fee=1_000_000_000,
            accounts=10,
            extra=["--timestamp", str(start - 3_600), "--prune-history"],
        )
        w3 = self.anvil.w3
        self.world = build(
            self.anvil,
            self.scenario,
            self.protection,
            self.borrowers(fair),
            first_price=c.venue_price.at(0),
            first_references=[s.at(0) for _, s in c.reference],
            fair_price=fair,
            params=self.params,
        )
        # every feed posts in the first block, then on a 0.05% move or every half heartbeat
        self.feed_posts = [(-math.inf, s.at(0)) for _, s in c.reference]
        wd = self.world
        self.c = _Calls.of(wd)
        for who, b in zip(wd.actors.borrowers, wd.borrowers, strict=True):
            self.positions[who] = [b.collateral, b.debt]
            self.record.opened[who] = (b.collateral, b.debt)
        # the liquidator holds debt tokens to repay with
        big = 10**12 * wd.debt_unit
        self._tx(self.c.debt, "mint", wd.actors.liquidator, big, sender=wd.actors.governance, wait=True)
        self._tx(
            self.c.debt, "approve", wd.lending.address, 2**256 - 1, sender=wd.actors.liquidator, wait=True
        )
        self._tx(
            self.c.collateral, "approve", wd.pool.address, 2**256 - 1, sender=wd.actors.liquidator, wait=True
        )
        for who in (wd.actors.market_maker, wd.actors.flows):
            for token in (self.c.collateral, self.c.debt):
                self._tx(token, "approve", wd.pool.address, 2**256 - 1, sender=who, wait=True)
        if self.c.auction is not None:
            for token in (self.c.collateral, self.c.debt):
                self._tx(token, "approve", wd.auction.address, 2**256 - 1, sender=wd.actors.dlp, wait=True)
        head = w3.eth.get_block("latest")
        self._head = int(head["number"])
        self.t0 = max(start, head["timestamp"] + 1)
        self.anvil.set_automine(False)
        if self.protection == "composite":
            self.keeper = self._make_keeper()
        self._now = self.t0
        self.lp_start_usd = self._lp_value_usd(fair)

    def _make_keeper(self) -> Keeper:
        wd = self.world
        cex = [
            CexVenue(exchange=v.name, symbol="COL/USD", calm_depth_usd=None) for v in self.scenario.series.cex
        ]
        market = MarketSettings(id=wd.market_id, name=self.scenario.name, cex=cex, lce=LceModel())
        state_dir = Path(tempfile.mkdtemp(prefix="replay-keeper-"))
        settings = KeeperSettings(
            breaker=wd.breaker.address,
            rpc_urls=[self.anvil.url],
            markets=[market],
            metrics_port=0,
            state_dir=state_dir,
            private_key=dev_key(3),
            log_level="WARNING",
        )
        scenario_raw = self.scenario.model_dump(mode="json", exclude_none=True)
        replay_source = ReplaySource(scenario_raw, self.base_dir, wd.market_id)
        self.replay_source = replay_source
        sources = [replay_source, PositionsSource(self.positions, wd.lt_bps, wd.market_id)]
        from eth_account import Account

        keeper = Keeper(
            settings, account=Account.from_key(dev_key(3)), sources=sources, clock=lambda: self._now
        )
        # Its per-block reads come from the engine's batch after each block (replay/transport.py).
        session = requests.Session()
        session.trust_env = False  # a local node: no proxy lookup per request
        self.keeper_transport = PrefetchingProvider(
            self.anvil.url,
            request_kwargs={"timeout": 10},
            session=session,
            exception_retry_configuration=None,
        )
        self.keeper_transport.head = self._head
        for endpoint in keeper.pool.endpoints:
            endpoint.w3 = Web3(self.keeper_transport)
        return keeper

    # ------------------------------------------------------------ the loop

    def run(self) -> Record:
        self.setup()
        steps = self.scenario.blocks
        bar = tqdm(
            total=steps,
            desc=f"{self.scenario.name} [{self.protection}]",
            unit="block",
            disable=not self.progress,
            leave=False,
        )
        self._latest.clear()
        self._timestamp_set = False
        try:
            for step in range(1, steps + 1):
                self.step(step * self.scenario.block_time_s, last=step == steps)
                bar.update(1)
        finally:
            bar.close()
        return self.record

    def step(self, t: float, last: bool = False) -> None:
        self._now = self.t0 + t
        if not self._timestamp_set:  # the batch after the last block set it (it leaves "latest" reads alone)
            self._head_block = self._read_batch(
                [
                    ("eth_getBlockByNumber", ["latest", False]),
                    ("evm_setNextBlockTimestamp", [hex(int(self._now))]),
                ]
            )[0]
        state = self._breaker_state()
        self._pool_sent = False
        self._keeper_sends = self.keeper_transport.sends if self.keeper_transport is not None else 0
        self._move_market(t, state)
        self._dlp_quote(state)
        if self.keeper is not None:
            if getattr(self, "replay_source", None) is not None:
                self.replay_source.set_time(t)
            self.keeper.cycle()
        else:
            self._baseline(t)
        if self.scenario.actors.liquidator.enabled:
            self._liquidate()
        self._latest.clear()
        self._head_block = None
        self.anvil.rpc("evm_mine", [hex(int(self._now))])
        self._head += 1
        self._observe(t, state, None if last else self._now + self.scenario.block_time_s)

    # ------------------------------------------------------------ market moves

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

    def _move_market(self, t: float, state: int) -> None:
        wd = self.world
        self._post_feeds(t)
        x, y = self._read(self.c.pool, "reserves")
        spot = (y / wd.debt_unit) / (x / wd.collateral_unit)
        target = self.curves.venue_price.at(t)
        pool_state = self._read(self.c.pool, "breaker_state")
        open_ = pool_state == NORMAL
        low, high = (0.0, math.inf)
        if wd.guarded:
            lo, hi = self._read(self.c.pool, "band_limits")
            low, high = lo / WAD * 1.0005, hi / WAD * 0.9995
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
                self._ensure(self.c.collateral, wd.actors.market_maker, amount)
                self._swap(True, amount, wd.actors.market_maker)
                x, y = x_new, k // max(x_new, 1)
            else:  # buy collateral with debt: y' = sqrt(k p)
                y_new = math.isqrt(int(k * reachable * wd.debt_unit / wd.collateral_unit))
                amount = int((y_new - y) / fee)
                self._ensure(self.c.debt, wd.actors.market_maker, amount)
                self._swap(False, amount, wd.actors.market_maker)
                x, y = k // max(y_new, 1), y_new
        # 2. the LP follows the depth path (depth within a band is proportional to the debt reserve)
        ratio = self.curves.venue_depth_ratio.at(t)
        target_y = ratio * wd.calm_debt_reserve
        # the pool refuses deposits from COOLDOWN to the end of AUCTION: the LP refills after
        deposits_closed = pool_state in (COOLDOWN, AUCTION) and target_y > y
        if y > 0 and abs(target_y / y - 1) > DEPTH_TOLERANCE and not deposits_closed:
            self._follow_depth(target_y / y, x, y)
        # 3. governance, scripted flows and the liquidator's sales
        for change in self.scenario.actors.governance:
            if t - self.scenario.block_time_s < change.t <= t:
                self._change_threshold(change, spot)
        for flow in self.scenario.actors.flows:
            if t - self.scenario.block_time_s < flow.t <= t and open_:
                self._flow(flow.sell, flow.usd, spot)
        if self.to_sell and open_:
            amount = self.to_sell
            if wd.guarded:  # sell no further than the band allows
                max_in = self._max_sell_within(x, y, low)
                amount = min(amount, max_in)
            if amount > 0:
                self._swap(True, amount, wd.actors.liquidator, fee=MARKET_FEE - 1)
                self.to_sell -= amount

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

    def _follow_depth(self, factor: float, x: int, y: int) -> None:
        wd = self.world
        shares = self._read(self.c.pool, "balanceOf", wd.actors.lp)
        supply = self._read(self.c.pool, "totalSupply")
        if factor < 1:
            burn = int(supply * (1 - factor))
            burn = min(burn, shares)
            if burn > 0:
                self._tx(self.c.pool, "remove_liquidity", burn, 0, 0, sender=wd.actors.lp, fee=MARKET_FEE)
        else:
            add_x, add_y = int(x * (factor - 1)), int(y * (factor - 1))
            self._ensure(self.c.collateral, wd.actors.lp, add_x, lp=True)
            self._ensure(self.c.debt, wd.actors.lp, add_y, lp=True)
            self._tx(
                self.c.pool, "add_liquidity", add_x, add_y, 0, 2**64, sender=wd.actors.lp, fee=MARKET_FEE
            )

    def _max_sell_within(self, x: int, y: int, low: float) -> int:
        if low <= 0:
            return 2**255
        wd = self.world
        x_floor = math.isqrt(int(x * y * wd.collateral_unit / (low * wd.debt_unit)))
        return max(0, int((x_floor - x) * 0.99))

    def _flow(self, sell: str, usd: float, spot: float) -> None:
        wd = self.world
        if sell == "collateral":
            amount = int(usd / spot * wd.collateral_unit)
            self._ensure(self.c.collateral, wd.actors.flows, amount)
            self._swap(True, amount, wd.actors.flows)
        else:
            amount = int(usd * wd.debt_unit)
            self._ensure(self.c.debt, wd.actors.flows, amount)
            self._swap(False, amount, wd.actors.flows)

    def _swap(self, sell_collateral: bool, amount: int, who: str, fee: int = MARKET_FEE) -> None:
        if amount > 0:
            self._tx(self.c.pool, "swap", sell_collateral, amount, 0, 2**64, sender=who, fee=fee)

    def _ensure(self, token: Any, who: str, amount: int, lp: bool = False) -> None:
        """Mints what an actor lacks (the market maker and flows stand for the rest of the market)."""
        have = self._read(token, "balanceOf", who)
        if have < amount:
            missing = amount - have
            self._tx(token, "mint", who, missing, sender=self.world.actors.governance, fee=MARKET_FEE + 1)
            if lp:
                unit = self.world.collateral_unit if token is self.c.collateral else self.world.debt_unit
                price = self.curves.fair_price.at(self._now - self.t0) if token is self.c.collateral else 1.0
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
        self._ensure(
            self.c.debt, wd.actors.dlp, math.ceil(amount / wd.collateral_unit * bid * wd.debt_unit * 1.001)
        )
        self._ensure(self.c.collateral, wd.actors.dlp, amount)
        self._tx(
            self.c.auction, "post_order", True, int(bid * WAD), amount, sender=wd.actors.dlp, fee=MARKET_FEE
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

    # ------------------------------------------------------------ protections

    def _source_price(self, block: str = "latest") -> float:
        """The lending market's price source as the last (or the pending) block shows it."""
        source, name = self._source_read()
        return self._decode_source_price(
            self._read(source, name) if block == "latest" else source.call(name, block=block)
        )

    def _source_read(self) -> tuple[Calls, str]:
        if self.scenario.market.lending.price_source == "venue":
            return self.c.pool, "spot_price"
        return self.c.oracle, "latest"

    def _decode_source_price(self, value: Any) -> float:
        return (value if self.scenario.market.lending.price_source == "venue" else value[0]) / WAD

    def _baseline(self, t: float) -> None:
        wd = self.world
        if self.protection == "single-threshold":
            price = self._source_price()
            self.watch.append((t, price))
            while self.watch and self.watch[0][0] < t - 3_600:
                self.watch.popleft()
            high = max(p for _, p in self.watch)
            if self.baseline_tripped_at is None and price < 0.8 * high:
                self._tx(
                    self.c.breaker,
                    "guardian_trip",
                    wd.market_id,
                    sender=wd.actors.governance,
                    fee=MARKET_FEE - 2,
                )
                self.baseline_tripped_at = t
            elif self.baseline_tripped_at is not None and t - self.baseline_tripped_at >= 3_600:
                if self._breaker_state() == HALTED:
                    self._tx(
                        self.c.breaker,
                        "force_resume",
                        wd.market_id,
                        sender=wd.actors.governance,
                        fee=MARKET_FEE - 2,
                    )
                self.baseline_tripped_at = None
        elif self.protection == "kill-switch" and not self.kill_switched:
            price = self._source_price()
            if self.first_source_price is None:
                self.first_source_price = price
            if price <= 0.95 * self.first_source_price:
                self._tx(self.c.lending, "pause", sender=wd.actors.governance, fee=MARKET_FEE - 2)
                self.kill_switched = True

    # ------------------------------------------------------------ liquidator

    def _liquidate(self) -> None:
        """Liquidates what the pending block shows unhealthy: like a searcher, the liquidator simulates
        against this block's earlier transactions (the market's moves, a trip with priority gas)."""
        wd, lending = self.world, self.c.lending
        source, name = self._source_read()
        assert self._head_block is not None  # read with the block (`_observe`) or before the first step
        self._base_fee = int(self._head_block["baseFeePerGas"], 16)
        # Building the pending block is most of a pending read's cost: the price alone first. When no position
        # is near liquidation even at the highest threshold the market can apply, the liquidator has nothing
        # to do, whatever the guard and the threshold say, and the other reads are spared.
        if self._pool_untouched():  # the pending block's venue price is the last block's
            first: Any = self._read(source, name)
        else:
            [first] = batch(wd.w3, [source.request(name, block="pending")], raise_errors=False)
            first = first if isinstance(first, Exception) else source.decode(name, 0, first)
        if not isinstance(first, Exception):  # a price that does not read (a frozen venue) goes the long way
            price = self._decode_source_price(first)
            lt_high = self._highest_threshold_bps / 10_000
            if price > 0 and not any(
                debt > 0 and collateral * price * lt_high / debt < 1.002
                for collateral, debt in self.positions.values()
            ):
                return
        guard, raw_price, raw_lt = batch(
            wd.w3,
            [
                lending.request("guard", block="pending"),
                source.request(name, block="pending"),
                lending.request("liquidation_threshold", block="pending"),
            ],
            raise_errors=False,
        )
        if isinstance(guard, Exception):
            raise guard
        if lending.decode("guard", 0, guard)[0] != NORMAL:
            return  # the market is frozen: a liquidator would only waste gas
        for answer in (raw_price, raw_lt):  # read only when the market is open, as a liquidator would
            if isinstance(answer, Exception):
                raise answer
        price = self._decode_source_price(source.decode(name, 0, raw_price))
        if price <= 0:
            return
        lt = lending.decode("liquidation_threshold", 0, raw_lt) / 10_000
        candidates = [
            who
            for who, (collateral, debt) in self.positions.items()
            if debt > 0 and collateral * price * lt / debt < 1.002
        ]
        # one liquidation leaves the others' health factors as they were (same price, same block)
        factors = batch(wd.w3, [lending.request("health_factor", who, block="pending") for who in candidates])
        for who, raw in zip(candidates, factors, strict=True):
            if lending.decode("health_factor", 1, raw) < WAD:
                self._tx(
                    lending,
                    "liquidate",
                    who,
                    2**256 - 1,
                    sender=wd.actors.liquidator,
                    fee=self._base_fee + LIQUIDATOR_TIP,
                    tip=LIQUIDATOR_TIP,
                )

    def _pool_untouched(self) -> bool:
        """True when the lending market prices off the pool and nobody sent the pool anything in this block
        (the engine's actors or the keeper, whose settlement trades it): its pending spot is the last
        block's. Nothing else moves its reserves (the breaker's notifications change only its state flag)."""
        return (
            self.scenario.market.lending.price_source == "venue"
            and not self._pool_sent
            and (self.keeper_transport is None or self.keeper_transport.sends == self._keeper_sends)
        )

    # ------------------------------------------------------------ recording

    def _events_filter(self) -> dict[str, Any]:
        """One eth_getLogs over the lending market, breaker and auction, for the block just mined."""
        wd = self.world
        if not self._decoders:
            watched = [(wd.lending, ("Liquidated", "BadDebtRealized"))]
            if wd.breaker is not None:
                watched.append(
                    (wd.breaker, ("MarketTripped", "MarketResumed", "HaltExtended", "StateAdvanced"))
                )
            if wd.auction is not None:
                watched.append((wd.auction, ("AuctionSettled",)))
            for contract, names in watched:
                for name in names:
                    event = contract.events[name]()
                    self._decoders[(contract.address, bytes(event_abi_to_log_topic(event.abi)))] = (
                        name,
                        event,
                    )
        return {
            "fromBlock": "latest",
            "toBlock": "latest",
            "address": sorted({address for address, _ in self._decoders}),
        }

    def _events(self, logs: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """The block's recorded events by name, from its raw logs."""
        out: dict[str, list[Any]] = defaultdict(list)
        for raw in logs:
            log = log_entry_formatter(raw)  # as web3's eth.get_logs formats it
            decoder = self._decoders.get((log["address"], bytes(log["topics"][0]))) if log["topics"] else None
            if decoder is not None:
                out[decoder[0]].append(decoder[1].process_log(log))
        return out

    def _breaker_state(self) -> int:
        wd = self.world
        if wd.breaker is None:
            return 8 if self.kill_switched else NORMAL
        return self._read(self.c.breaker, "state", wd.market_id)

    def _observe(self, t: float, state_before: int, next_timestamp: float | None) -> None:
        """Records the block just mined. Its events, the reads the record and the next step need and the
        next block's timestamp go out as one batch."""
        wd = self.world
        extra: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getLogs", [self._events_filter()]),
        ]
        if next_timestamp is not None:
            extra += [("evm_setNextBlockTimestamp", [hex(int(next_timestamp))])]
        for_keeper = (
            self.keeper_transport.requests_for(self._head) if self.keeper_transport is not None else []
        )
        answers = self._read_batch(extra + for_keeper, answers_for_keeper=len(for_keeper))
        self._head_block, logs = answers[:2]
        if self.keeper_transport is not None:
            self.keeper_transport.answer(self._head, for_keeper, answers[len(extra) :])
        self._timestamp_set = next_timestamp is not None
        number = int(self._head_block["number"], 16)
        self.record.blocks += 1
        fair = self.curves.fair_price.at(t)
        events = self._events(logs)
        # The event carries the position after the liquidation; the debt written off as bad debt in
        # the same transaction was part of the debt before it.
        written_off = {
            (ev["transactionHash"], ev["args"]["borrower"]): ev["args"]["amount"]
            for ev in events["BadDebtRealized"]
        }
        self.record.written_off += sum(written_off.values()) / wd.debt_unit
        for ev in events["Liquidated"]:
            a = ev["args"]
            bad_debt = written_off.get((ev["transactionHash"], a["borrower"]), 0)
            liq = Liquidation(
                t=t,
                block=number,
                borrower=a["borrower"],
                repaid=a["repaid"] / wd.debt_unit,
                seized=a["seized"] / wd.collateral_unit,
                debt_before=(a["debt"] + a["repaid"] + bad_debt) / wd.debt_unit,
                collateral_before=(a["collateral"] + a["seized"]) / wd.collateral_unit,
                threshold_bps=a["threshold_bps"],
                fair_price=fair,
            )
            self.record.liquidations.append(liq)
            self.positions[a["borrower"]] = [a["collateral"] / wd.collateral_unit, a["debt"] / wd.debt_unit]
            self.to_sell += a["seized"]
        block = len(self.record.states) + 1
        for ev in events["MarketTripped"]:
            rule, reason = REASONS.get(ev["args"]["reason"], ("?", str(ev["args"]["reason"])))
            if self.protection == "single-threshold":
                rule, reason = "single-threshold", "20% below 1-hour high"
            self.record.trips.append({"t": t, "block": block, "rule": rule, "reason": reason})
        for _ in events["MarketResumed"]:
            self.record.resumes.append({"t": t, "block": block})
        for ev in events["HaltExtended"]:
            self.record.extensions.append(
                {
                    "t": t,
                    "lce_bps": ev["args"]["lce_bps"],
                    "resume_after_t": ev["args"]["new_resume_after"] - self.t0,
                }
            )
        for ev in events["AuctionSettled"]:
            a = ev["args"]
            self.record.auctions.append(
                {
                    "t": t,
                    "block": block,
                    "price": a["price"] / WAD,
                    "volume": a["volume"] / wd.collateral_unit,
                    "imbalance": a["imbalance"] / wd.collateral_unit,
                    "orders": a["orders"],
                    "reference": a["reference"] / WAD,
                }
            )
        for ev in events["StateAdvanced"]:
            if ev["args"]["old_state"] == HALTED:
                self.record.resumes.append({"t": t, "block": block, "lapsed": True})
        state = self._breaker_state()
        if state == HALTED:
            self.record.halted_s += self.scenario.block_time_s
        self.record.states.append((t, state))
        pool_price = self._read(self.c.pool, "spot_price") / WAD
        ref = self._read(self.c.oracle, "latest")[0] / WAD
        self.record.prices.append((t, self.curves.venue_price.at(t), pool_price, ref))

    # ------------------------------------------------------------ accounting helpers

    def _lp_value_usd(self, fair: float) -> float:
        wd = self.world
        x, y = self._read(self.c.pool, "reserves")
        shares = self._read(self.c.pool, "balanceOf", wd.actors.lp)
        supply = self._read(self.c.pool, "totalSupply")
        share = shares / supply if supply else 0.0
        wallet_c = self._read(self.c.collateral, "balanceOf", wd.actors.lp)
        wallet_d = self._read(self.c.debt, "balanceOf", wd.actors.lp)
        collateral = share * x + wallet_c
        debt = share * y + wallet_d
        return collateral / wd.collateral_unit * fair + debt / wd.debt_unit

    def lp_value_change_usd(self) -> float:
        fair = self.curves.fair_price.at(self.scenario.blocks * self.scenario.block_time_s)
        return self._lp_value_usd(fair) - self.lp_contributed_usd - self.lp_start_usd

    def bad_debt_usd(self) -> float:
        """Debt no collateral covers at the end, plus what the market already wrote off on the way
        (it realises bad debt at once, so the positions alone would hide it)."""
        wd = self.world
        fair = self.curves.fair_price.at(self.scenario.blocks * self.scenario.block_time_s)
        total = self.record.written_off
        lending = self.c.lending
        answers = batch(
            wd.w3,
            [
                lending.request(name, who)
                for who in wd.actors.borrowers
                for name in ("debt_of", "collateral_of")
            ],
        )
        for i in range(0, len(answers), 2):
            debt = lending.decode("debt_of", 1, answers[i]) / wd.debt_unit
            collateral = lending.decode("collateral_of", 1, answers[i + 1]) / wd.collateral_unit
            total += max(0.0, debt - collateral * fair)
        return total

    # ------------------------------------------------------------ reads

    def _read(self, target: Calls, name: str, *args: Any) -> Any:
        """`name(*args)` at the latest block, asked once per mined block."""
        key = (target.address, name, args)
        if key not in self._latest:
            self._latest[key] = target.call(name, *args)
        return self._latest[key]

    def _block_reads(self) -> list[tuple[Calls, str, tuple[Any, ...]]]:
        """What a step reads at the latest block, asked together after each mined block."""
        wd, c = self.world, self.c
        reads: list[tuple[Calls, str, tuple[Any, ...]]] = [
            (c.pool, "reserves", ()),
            (c.pool, "breaker_state", ()),
            (c.pool, "fee_bps", ()),
            (c.pool, "spot_price", ()),
            (c.oracle, "latest", ()),
            (c.pool, "balanceOf", (wd.actors.lp,)),
            (c.pool, "totalSupply", ()),
        ]
        if wd.guarded:
            reads.append((c.pool, "band_limits", ()))
        if c.breaker is not None:
            reads.append((c.breaker, "state", (wd.market_id,)))
        for token in (c.collateral, c.debt):
            reads += [
                (token, "balanceOf", (who,))
                for who in (wd.actors.market_maker, wd.actors.lp, wd.actors.flows)
            ]
        return reads

    def _read_batch(self, extra: list[tuple[str, list[Any]]], answers_for_keeper: int = 0) -> list[Any]:
        """`extra` requests and every `_block_reads` in one batch: `extra`'s results, the reads cached.

        The last `answers_for_keeper` of `extra` are the keeper's reads: a node error there (a view that
        reverts in this block) comes back as its RpcError for the keeper to meet as it would in production;
        an error anywhere else is the engine's and raises."""
        reads = [r for r in self._block_reads() if (r[0].address, r[1], r[2]) not in self._latest]
        results = batch(
            self.world.w3,
            extra + [target.request(name, *args) for target, name, args in reads],
            raise_errors=False,
        )
        keeper_from = len(extra) - answers_for_keeper
        for i, result in enumerate(results):
            if isinstance(result, RpcError) and not keeper_from <= i < len(extra):
                raise result
        for (target, name, args), raw in zip(reads, results[len(extra) :], strict=True):
            self._latest[(target.address, name, args)] = target.decode(name, len(args), raw)
        return results[: len(extra)]

    # ------------------------------------------------------------ transactions

    def _tx(
        self,
        target: Calls,
        name: str,
        *args: Any,
        sender: str,
        fee: int = MARKET_FEE,
        tip: int | None = None,
        wait: bool = False,
    ) -> Any:
        tx_hash = target.send(
            name, *args, sender=sender, gas=GAS, max_fee=fee, tip=tip if tip is not None else MARKET_TIP
        )
        if target.address == self.world.pool.address:
            self._pool_sent = True
        if wait:
            return self.world.w3.eth.wait_for_transaction_receipt(tx_hash)
        return tx_hash

    def close(self) -> None:
        if self.anvil is not None:
            self.anvil.stop()
