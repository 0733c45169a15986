"""The replay loop: one anvil block per scenario step, real contracts, the real keeper.

Each step (block_time_s of scenario time) builds one block, with automine off:

1. the market moves (highest fees, so first in the block): each reference feed posts a new round
   when it moved (and the aggregated feed, when the lending market reads one), the market maker
   trades the pool toward `venue_price` (within the pool's own rules: nothing while it is closed,
   never past its price band), the LP adds or removes liquidity so the pool's depth follows
   `venue_depth_ratio`, scripted `flows` trade, the liquidator sells what it seized earlier to the
   better of the pool and the external market within its slippage limit, and the arbitrageur
   trades the pool toward the external market (replay/actors/);
2. the protection acts: the keeper's `cycle()` (worlds whose trips come from rules A/B, with the
   scenario's CEX series and open interest through its replay source, and the borrowers' positions),
   or a baseline's watcher on the pending block's lending price (replay/actors/watchers.py);
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from web3 import Web3

from devchain import Anvil, dev_key
from devchain.loopback import keep_alive
from keeper.config import CexVenue, KeeperSettings, LceModel, MarketSettings
from keeper.indicators import Positions
from keeper.runner import Keeper
from keeper.sources.base import Observations
from keeper.sources.replay import ReplaySource
from replay import population
from replay.actors.market import (
    DLP_FUNDED_QUOTES,
    DLP_QUOTE_SHARE,
    HALTED,
    MARKET_FEE,
    NORMAL,
    WATCHER_FEE,
    MarketMoves,
)
from replay.actors.watchers import KillSwitch, SingleThreshold
from replay.calls import Calls, RpcError, batch
from replay.record import Liquidation, Record, Recorder
from replay.scenario import BorrowersFile, Curves, Scenario
from replay.transport import PrefetchingProvider
from replay.world import WAD, WIRING, World, build

__all__ = ["Engine", "Liquidation", "Record"]

GAS = 3_000_000
MARKET_TIP = 10**9
LIQUIDATOR_TIP = 10**9
ARBITRAGE_CAPITAL_SHARE = 0.01  # the arbitrageur's default capital, as a share of the pool's calm liquidity


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
    aggregator_oracle: Calls | None
    aggregator_feed: Calls | None

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
            aggregator_oracle=Calls(w3, wd.aggregator_oracle) if wd.aggregator_oracle is not None else None,
            aggregator_feed=Calls(w3, wd.aggregator_feed) if wd.aggregator_feed is not None else None,
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


class Engine(MarketMoves, Recorder):
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
        self.wiring = WIRING[protection]
        self.watcher = {"single-threshold": SingleThreshold, "kill-switch": KillSwitch}.get(
            self.wiring.trips_by, lambda: None
        )()
        self.feed_posts: list[tuple[float, float]] = []  # last (t, value) per feed
        self.aggregator_post = (-math.inf, 0.0)  # the aggregated feed's last (t, value)
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
        # Cancun rules: under Prague, EIP-2935 stores every block's hash in a system contract, and anvil
        # rebuilds that growing trie at every block, so mining costs 0.4 ms at the start and 3 to 4 ms by
        # block 1,800. No contract here reads block hashes; nothing else Prague changed (the calldata
        # floor, EIP-7702, BLS precompiles) touches what a replay measures.
        self.anvil = Anvil(
            gas_limit=2_000_000_000,
            base_fee=1_000_000_000,
            accounts=10,
            extra=["--timestamp", str(start - 3_600), "--prune-history", "--hardfork", "cancun"],
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
        for who in (wd.actors.market_maker, wd.actors.flows, wd.actors.arbitrageur):
            for token in (self.c.collateral, self.c.debt):
                self._tx(token, "approve", wd.pool.address, 2**256 - 1, sender=who, wait=True)
        capital = self.arbitrageur_capital_usd()
        if self.scenario.actors.arbitrageur.enabled and capital > 0:  # its capital, in the debt asset
            self._fund(self.c.debt, wd.actors.arbitrageur, capital, "arbitrageur", fair)
        if self.c.auction is not None:
            for token in (self.c.collateral, self.c.debt):
                self._tx(token, "approve", wd.auction.address, 2**256 - 1, sender=wd.actors.dlp, wait=True)
            # funded ahead of any quote: a quote never waits on a mint in its own block
            quote_usd = self.scenario.market.pool.liquidity_usd * DLP_QUOTE_SHARE * DLP_FUNDED_QUOTES
            self._fund(self.c.debt, wd.actors.dlp, quote_usd, "dlp", fair)
            self._fund(self.c.collateral, wd.actors.dlp, quote_usd / fair, "dlp", fair)
        head = w3.eth.get_block("latest")
        self._head = int(head["number"])
        self.t0 = max(start, head["timestamp"] + 1)
        self.anvil.set_automine(False)
        if self.wiring.trips_by == "keeper":
            self.keeper = self._make_keeper()
        self._now = self.t0
        self.lp_start_usd = self._lp_value_usd(fair)

    def arbitrageur_capital_usd(self) -> float:
        capital = self.scenario.actors.arbitrageur.capital_usd
        if capital is None:
            return self.scenario.market.pool.liquidity_usd * ARBITRAGE_CAPITAL_SHARE
        return capital

    def _fund(self, token: Calls, who: str, amount: float, actor: str, fair: float) -> None:
        """Mints `amount` whole tokens to `who` at set-up and counts them as given to `actor`."""
        collateral = token is self.c.collateral
        unit = self.world.collateral_unit if collateral else self.world.debt_unit
        self._tx(token, "mint", who, int(amount * unit), sender=self.world.actors.governance, wait=True)
        self._give(actor, amount * (fair if collateral else 1.0))

    def _give(self, actor: str, usd: float) -> None:
        self.record.given_usd[actor] = self.record.given_usd.get(actor, 0.0) + usd

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
        self.keeper_transport = keep_alive(
            PrefetchingProvider(
                self.anvil.url, request_kwargs={"timeout": 10}, exception_retry_configuration=None
            )
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

    # ------------------------------------------------------------ protections

    def _source_price(self, block: str = "latest") -> float:
        """The lending market's price source as the last (or the pending) block shows it."""
        source, name = self._source_read()
        return self._decode_source_price(
            self._read(source, name) if block == "latest" else source.call(name, block=block)
        )

    def _source_read(self) -> tuple[Calls, str]:
        source = self.scenario.market.lending.price_source
        if source == "venue":
            return self.c.pool, "spot_price"
        return (self.c.aggregator_oracle if source == "aggregator" else self.c.oracle), "latest"

    def _decode_source_price(self, value: Any) -> float:
        return (value if self.scenario.market.lending.price_source == "venue" else value[0]) / WAD

    def _baseline(self, t: float) -> None:
        """A baseline's watcher decides on the lending price the pending block shows (what the liquidator
        acts on) and trips or resumes through the breaker, whose consumer the lending market is."""
        if self.watcher is None:
            return
        source, name = self._source_read()
        price = self._decode_source_price(source.call(name, block="pending"))
        action = self.watcher.decide(t, price, self._read(self.c.oracle, "latest")[0] / WAD)
        if action == "trip" and self._breaker_state() != HALTED:
            call = "guardian_trip"
        elif action == "resume" and self._breaker_state() == HALTED:
            call = "force_resume"
        else:
            return
        wd = self.world
        self._tx(self.c.breaker, call, wd.market_id, sender=wd.actors.governance, fee=WATCHER_FEE)

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
        if self.wiring.band:
            reads.append((c.pool, "band_limits", ()))
        if c.breaker is not None:
            reads.append((c.breaker, "state", (wd.market_id,)))
        for token in (c.collateral, c.debt):
            reads += [
                (token, "balanceOf", (who,))
                for who in (wd.actors.market_maker, wd.actors.lp, wd.actors.flows, wd.actors.arbitrageur)
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
