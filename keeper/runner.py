"""The keeper loop: sources -> indicators -> policy -> executor, once per new block.

A cycle that fails (RPC down everywhere, a bug) is logged and counted, and the loop goes on:
the keeper is meant to run unattended through a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from web3 import Web3
from web3.logs import DISCARD

from keeper import indicators as I
from keeper import params as P
from keeper.abi import load_abi
from keeper.background import BackgroundSources
from keeper.chain import BreakerReader, RpcPool, rpc_result
from keeper.config import KeeperSettings, MarketSettings, redact_url, sender_address
from keeper.executor import Executor, Outcome
from keeper.heads import HeadWatcher
from keeper.journal import PAUSE_FILE, StateLock
from keeper.metrics import Metrics
from keeper.model import Action, AuctionSettlement, Kind, MarketView, OnChainMarket
from keeper.notify import Notifier
from keeper.pokes import POKE_OUTCOMES, PokeSchedule
from keeper.policy import decide
from keeper.sources import CcxtSource, OnChainSource, PositionsFileSource, Source, merge
from keeper.sources.lending import LendingEventsSource, LendingMarketConfig

log = logging.getLogger("keeper.runner")
WAD = 10**18
MAX_VP_WINDOW_S = P.BY_NAME["vp_window_s"].high


class ChainMismatch(RuntimeError):
    pass


@dataclass
class MarketReport:
    market_id: int
    chain: OnChainMarket
    keeper: I.MarketIndicators
    action: Action | None
    outcome: Outcome | None


@dataclass
class CycleReport:
    block: int
    seconds: float
    markets: list[MarketReport] = field(default_factory=list)
    landed: list[Any] = field(default_factory=list)
    settlements: list[AuctionSettlement] = field(default_factory=list)  # the keeper's settlements that landed
    unreadable: dict[int, str] = field(default_factory=dict)  # markets the chain could not show: skipped


def settlements_in(
    receipt: Any, auction: str, market_id: int, auction_abi: list[dict[str, Any]]
) -> list[AuctionSettlement]:
    """The `AuctionSettled` events that `auction` logged in a receipt."""
    event = Web3().eth.contract(abi=auction_abi).events.AuctionSettled()
    tx = receipt["transactionHash"]
    out = []
    for e in event.process_receipt(receipt, errors=DISCARD):
        if e["address"].lower() != auction.lower():
            continue
        a = e["args"]
        out.append(
            AuctionSettlement(
                market_id,
                Web3.to_checksum_address(e["address"]),
                a["round"],
                a["price"],
                a["volume"],
                a["imbalance"],
                a["bought"],
                a["sold"],
                a["pool_collateral_in"],
                a["pool_debt_in"],
                a["orders"],
                a["reference"],
                tx.to_0x_hex() if hasattr(tx, "to_0x_hex") else str(tx),
            )
        )
    return out


def indicator_settings(market: MarketSettings, chain: OnChainMarket, settings: KeeperSettings) -> I.Settings:
    p = chain.params
    return I.Settings(
        max_age_s=settings.thresholds.max_age_s,
        outlier_bps=settings.thresholds.outlier_bps,
        min_sources=settings.thresholds.min_sources,
        band_bps=p["depth_band_bps"],
        si_notional=p["si_notional"] / WAD,
        vp_window_s=p["vp_window_s"],
        lce_move_bps=market.lce.move_bps,
        leverage_shares=market.lce.leverage_shares,
        oi_long_share=market.lce.oi_long_share,
        maintenance_margin_bps=market.lce.maintenance_margin_bps,
    )


def default_sources(
    settings: KeeperSettings, metrics: Metrics, pool: RpcPool | None = None, chain_id: int | None = None
) -> list[Source]:
    """The sources the configuration asks for; lending events need the keeper's RPC `pool`."""
    sources: list[Source] = []
    if any(m.cex for m in settings.markets):
        sources.append(
            CcxtSource(
                settings.markets,
                timeout_s=settings.rpc_timeout_s,
                on_error=lambda s: metrics.source_errors.labels(s).inc(),
            )
        )
    files = {m.id: m.lce.positions_file for m in settings.markets if m.lce.positions_file}
    if files:
        sources.append(PositionsFileSource(files))
    lending = {
        m.id: LendingMarketConfig(
            m.lce.lending_market, m.lce.from_block, m.lce.log_page_blocks, m.lce.reorg_margin_blocks
        )
        for m in settings.markets
        if m.lce.lending_market
    }
    if lending and pool is not None:
        sources.append(
            LendingEventsSource(
                pool,
                lending,
                state_dir=settings.state_dir,
                chain_id=chain_id,
                on_error=lambda s: metrics.source_errors.labels(s).inc(),
            )
        )
    return sources


class Keeper:
    def __init__(
        self,
        settings: KeeperSettings,
        *,
        account: Any = None,
        sources: Sequence[Source] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.pool = RpcPool.from_urls(
            [str(u) for u in settings.rpc_urls],
            settings.rpc_timeout_s,
            on_error=lambda name: self.metrics.rpc_errors.labels(name).inc(),
        )
        self.abi = load_abi("CircuitBreaker", settings.build_path)
        self.auction_abi = load_abi("ReopeningAuction", settings.build_path)
        self.sender = sender_address(settings, account)
        self.pool.on_failover = lambda reason: self.metrics.failovers.labels(reason).inc()
        self.chain_id = int(self.pool.call(lambda w3: w3.eth.chain_id, "eth_chainId"))
        if settings.chain_id is not None and settings.chain_id != self.chain_id:
            raise ChainMismatch(
                f"configured chain_id {settings.chain_id} but the RPC serves chain {self.chain_id}"
            )
        self.pool.current.chain_id = self.chain_id
        self.pool.expected_chain_id = self.chain_id  # every other endpoint is checked before its first use
        self.reader = BreakerReader(
            self.pool, settings.breaker, self.abi, self.sender, settings.params_refresh_s
        )
        self.chain_source = OnChainSource(self.reader)
        self._sources: list[Source] = []
        self.background = BackgroundSources([], settings.offchain_deadline_s)
        self.sources = (
            list(sources)
            if sources is not None
            else default_sources(settings, self.metrics, self.pool, self.chain_id)
        )
        journal = None
        self.lock: StateLock | None = None
        if self.sender and not settings.dry_run:
            # One process per key: a second keeper on this key and state_dir stops here, naming the first.
            self.lock = StateLock(
                settings.state_dir / f"keeper-{self.chain_id}-{self.sender.lower()}.lock"
            ).acquire()
            journal = settings.state_dir / f"journal-{self.chain_id}-{self.sender.lower()}.json"
        self.executor = Executor(
            self.pool,
            settings.breaker,
            self.abi,
            settings.fees,
            account=account,
            sender=self.sender,
            chain_id=self.chain_id,
            metrics=self.metrics,
            journal_path=journal,
            dry_run=settings.dry_run,
            simulate_block=settings.simulate_block,
            relay_url=str(settings.private_relay_url) if settings.private_relay_url else None,
            relay_fallback_public=settings.relay_fallback_public,
            timeout=settings.rpc_timeout_s,
            auction_abi=self.auction_abi,
            foreign_wait_blocks=settings.foreign_wait_blocks,
            sweep_after_blocks=settings.sweep_after_blocks,
            defer_blocks=settings.defer_blocks,
        )
        self.notifier = Notifier(
            settings.webhook_url.get_secret_value() if settings.webhook_url else None,
            self.metrics,
            timeout_s=settings.webhook_timeout_s,
            common={"keeper": self.sender, "chain_id": self.chain_id},
        )
        self._was_healthy: bool | None = None
        self.pokes = PokeSchedule()
        self._poke_failures: dict[int, int] = {}
        self._unreadable_in_a_row: dict[int, int] = {}
        self.history: dict[int, deque[tuple[float, float]]] = {
            m: deque(maxlen=4_096) for m in settings.market_ids
        }
        self._rejected_seen: dict[int, frozenset[str]] = {}
        self.last_ok: float | None = None
        self.last_block: int | None = None
        self.last_head_time: int | None = None
        self.balance_wei: int | None = None
        self.cycles = 0
        if self.executor.journal.items:
            log.info(
                "adopting in-flight transactions from the journal",
                extra={
                    "count": len(self.executor.journal.items),
                    "nonces": sorted(self.executor.journal.items),
                },
            )
        log.info(
            "keeper ready",
            extra={
                "chain_id": self.chain_id,
                "sender": self.sender,
                "breaker": settings.breaker,
                "markets": settings.market_ids,
                "dry_run": settings.dry_run,
                "rpc": [redact_url(str(u)) for u in settings.rpc_urls],
            },
        )

    @property
    def sources(self) -> list[Source]:
        return self._sources

    @sources.setter
    def sources(self, sources: Sequence[Source]) -> None:
        self.background.close()
        self._sources = list(sources)
        self.background = BackgroundSources(
            self._sources,
            self.settings.offchain_deadline_s,
            on_error=lambda name: self.metrics.source_errors.labels(name).inc(),
        )

    # ------------------------------------------------------------ one cycle

    def _collect(self, ids: Sequence[int], now: float) -> list[dict[int, Any]]:
        before = self.background.late
        parts = self.background.collect(ids, now)
        if self.background.late > before:
            self.metrics.sources_late.inc(self.background.late - before)
        return parts

    def _indicators(
        self, market: MarketSettings, chain: OnChainMarket, obs: Any, now: float
    ) -> I.MarketIndicators:
        cfg = indicator_settings(market, chain, self.settings)
        hist = self.history[market.id]
        index = I.reference_index(
            obs.quotes, now, max_age_s=cfg.max_age_s, outlier_bps=cfg.outlier_bps, min_sources=cfg.min_sources
        )
        if index.price is not None:
            hist.append((now, index.price))  # the keeper's own V_P runs on the off-chain index
        # V_P looks back one window; older points only cost time every cycle. Trimmed to the widest window
        # governance can set, so a longer window starts with its history.
        while hist and hist[0][0] < now - MAX_VP_WINDOW_S:
            hist.popleft()
        inputs = I.MarketInputs(
            now=now,
            venue_price=chain.indicators.spot / WAD,
            venue_depth_usd=None if chain.venue_depth is None else chain.venue_depth / WAD,
            quotes=obs.quotes,
            books=obs.books,
            calm_depth_usd=obs.calm_depth_usd,
            perp_quotes=obs.perp_quotes,
            open_interest=obs.open_interest,
            positions=obs.positions,
            price_times=np.fromiter((t for t, _ in hist), float, len(hist)),
            price_history=np.fromiter((p for _, p in hist), float, len(hist)),
        )
        return I.compute_market(inputs, cfg)

    def _record(self, mid: int, chain: OnChainMarket, ind: I.MarketIndicators, obs: Any) -> None:
        m = self.metrics
        label = str(mid)
        m.market_state.labels(label).set(int(chain.state))
        ci = chain.indicators
        for name, value in (("cvd", ci.cvd_bps), ("rl", ci.rl_bps), ("si", ci.si_bps), ("vp", ci.vp_bps)):
            m.indicator.labels(label, name, "chain").set(value)
        for name in ("cvd", "rl", "si", "vp", "lce", "basis"):
            value = getattr(ind, f"{name}_bps")
            m.indicator.labels(label, name, "keeper").set(float("nan") if value is None else value)
        if ind.index_price is not None:
            m.index_price.labels(label).set(ind.index_price)
        for source in ind.rejected:
            m.data_rejected.labels(label, source).inc()
        seen = frozenset(f"{k}: {v.split(' (')[0]}" for k, v in ind.rejected.items()) | frozenset(obs.errors)
        if seen != self._rejected_seen.get(mid, frozenset()):
            if seen:
                log.warning(
                    "off-chain data rejected",
                    extra={"market": mid, "rejected": dict(ind.rejected), "errors": obs.errors},
                )
            else:
                log.info("off-chain data clean again", extra={"market": mid})
            self._rejected_seen[mid] = seen

    def _settled(self, landed: list[Any]) -> list[AuctionSettlement]:
        """Reports the keeper's settlements that landed: one log line each, and the clearing metrics."""
        found: list[AuctionSettlement] = []
        for rec, receipt in landed:
            if rec.kind != Kind.SETTLE_AUCTION.value or rec.cancel or receipt["status"] != 1:
                continue
            for s in settlements_in(receipt, rec.to, rec.market_id, self.auction_abi):
                label = str(s.market_id)
                self.metrics.auction_price.labels(label).set(s.price / WAD)
                self.metrics.auction_volume.labels(label).set(s.volume)
                self.metrics.auctions_settled.labels(label).inc()
                log.info(
                    "auction settled",
                    extra={
                        "market": s.market_id,
                        "auction": s.auction,
                        "round": s.round,
                        "price": s.price / WAD,
                        "volume": s.volume,
                        "imbalance": s.imbalance,
                        "bought": s.bought,
                        "sold": s.sold,
                        "pool_collateral_in": s.pool_collateral_in,
                        "pool_debt_in": s.pool_debt_in,
                        "orders": s.orders,
                        "reference": s.reference / WAD,
                        "tx": s.tx,
                    },
                )
                found.append(s)
        return found

    def _pokes_landed(self, landed: list[Any], head_block: int, head_timestamp: int) -> None:
        """Tells the poke schedule about the keeper's pokes that were mined, at their block's time."""
        for rec, receipt in landed:
            if rec.kind != Kind.POKE.value or rec.cancel:
                continue
            number = int(receipt["blockNumber"])
            ok = receipt["status"] == 1
            self.pokes.landed(rec.market_id, self._block_timestamp(number, head_block, head_timestamp), ok)
            self._poke_result(rec.market_id, ok)

    def _block_timestamp(self, number: int, head_block: int, head_timestamp: int) -> int:
        """Block `number`'s timestamp; the head's when it cannot be read (later, so the schedule waits a
        little longer, never less)."""
        if number == head_block:
            return head_timestamp
        try:
            block = self.pool.call(
                lambda w3: rpc_result(w3, "eth_getBlockByNumber", [hex(number), False]), "block"
            )
            return int(block["timestamp"], 16)
        except Exception as exc:  # noqa: BLE001 - a missed read never stops a cycle
            log.warning("block timestamp unreadable", extra={"block": number, "error": str(exc)})
            return head_timestamp

    def _poke_result(self, market_id: int, ok: bool | None) -> None:
        """Counts the market's pokes that failed in a row (the `KeeperPokesFailing` alert): True resets the
        count (a poke landed, or one was not needed), False adds one, None (in flight, deferred) neither."""
        if ok is None:
            return
        failures = 0 if ok else self._poke_failures.get(market_id, 0) + 1
        self._poke_failures[market_id] = failures
        self.metrics.poke_failures.labels(str(market_id)).set(failures)

    def _poke(self, action: Action, block: int, head_timestamp: int) -> Outcome:
        """Sends a poke: whatever goes wrong (a revert, an RPC error) is logged and counted, and the cycle
        goes on to the other markets, whose trips a poke must never hold up."""
        mid = action.market_id
        try:
            outcome = self.executor.submit(action, block)
        except Exception as exc:  # noqa: BLE001 - a failed poke never stops a cycle
            log.error(
                "poke failed",
                extra={"action": action.describe(), "error": f"{type(exc).__name__}: {exc}"},
                exc_info=self._poke_failures.get(mid, 0) == 0,
            )
            outcome = Outcome("error", f"{type(exc).__name__}: {exc}")
        if outcome.status == "not-due":
            self.pokes.nothing_to_record(mid, head_timestamp)
        elif outcome.status == "dry-run":
            # nothing will land: count it as done, so a dry run does not simulate it again every block
            self.pokes.landed(mid, head_timestamp, success=True)
        self._poke_result(mid, POKE_OUTCOMES.get(outcome.status))
        return outcome

    def cycle(self) -> CycleReport:
        t0 = time.perf_counter()
        now = self.clock()
        ids = self.settings.market_ids
        self.background.start(ids, now)  # exchanges answer while the chain is read
        heads = self.pool.check_heads(self.settings.max_head_lag_blocks, self.settings.head_stall_s)
        for name, number in heads.items():
            self.metrics.endpoint_head.labels(name).set(number)
        chain_obs = self.chain_source.collect(ids, now)
        head = self.chain_source.head
        block = head["number"]
        self.metrics.head_block.set(block)
        self.metrics.head_lag_blocks.set(max(0, max(heads.values(), default=block) - block))
        self.metrics.block_lag.set(max(0.0, now - head["timestamp"]))
        self.last_head_time = head["timestamp"]
        report = CycleReport(block, 0.0)
        paused = (self.settings.state_dir / PAUSE_FILE).exists()
        if paused != self.executor.paused:
            log.warning(
                "sending paused" if paused else "sending resumed",
                extra={"flag": str(self.settings.state_dir / PAUSE_FILE)},
            )
        self.executor.paused = paused
        self.metrics.paused.set(int(paused))
        report.landed = self.executor.tick(block)
        self.pokes.observe_head(block, head["timestamp"])
        self._pokes_landed(report.landed, block, head["timestamp"])
        self._read_balance()
        report.settlements = self._settled(report.landed)
        parts = self._collect(ids, now)
        now = self.clock()  # data is judged fresh or stale when the decision is made, after it arrived
        for market in self.settings.markets:
            mid = market.id
            if mid not in chain_obs:
                self._unreadable(mid, report)
                continue
            if self._unreadable_in_a_row.pop(mid, 0):
                self.metrics.market_unreadable.labels(str(mid)).set(0)
            obs = merge([chain_obs[mid]] + [p[mid] for p in parts if mid in p])
            chain = chain_obs[mid].chain
            assert chain is not None
            ind = self._indicators(market, chain, obs, now)
            self._record(mid, chain, ind, obs)
            view = MarketView(
                chain,
                ind.lce_bps,
                market.lce.safe_bps,
                self.settings.thresholds.extend_lead_s,
                poke_due=self.pokes.due(chain, market.poke),
            )
            action = decide(view)
            outcome = None
            if action is None:
                self.executor.idle(mid)
            else:
                self.metrics.decisions.labels(str(mid), action.kind.value).inc()
                if action.kind == Kind.POKE:
                    outcome = self._poke(action, block, head["timestamp"])
                else:
                    outcome = self.executor.submit(action, block)
            report.markets.append(MarketReport(mid, chain, ind, action, outcome))
        self._notify(report)
        report.seconds = time.perf_counter() - t0
        self.metrics.cycle_seconds.observe(report.seconds)
        self.metrics.last_cycle.set(self.clock())
        self.last_ok = self.clock()
        self.last_block = block
        self.cycles += 1
        return report

    def _unreadable(self, market_id: int, report: CycleReport) -> None:
        """A market whose breaker views reverted at the head and at the pending block (a Uniswap V2 pair
        that trades in both): nothing is decided for it this cycle; the other markets go on."""
        reason = self.reader.unreadable.get(market_id, "not in the snapshot")
        report.unreadable[market_id] = reason
        in_a_row = self._unreadable_in_a_row.get(market_id, 0) + 1
        self._unreadable_in_a_row[market_id] = in_a_row
        self.metrics.market_unreadable.labels(str(market_id)).set(in_a_row)
        log.warning(
            "market unreadable at this block: skipped, the other markets go on",
            extra={"market": market_id, "error": reason, "cycles_in_a_row": in_a_row},
        )

    # ------------------------------------------------------------ the loop

    def run(self, stop: threading.Event | None = None, max_cycles: int | None = None) -> None:
        stop = stop or threading.Event()
        heads = HeadWatcher(self.settings.ws_url).start() if self.settings.ws_url else None
        try:
            self._loop(stop, max_cycles, heads)
        finally:
            if heads is not None:
                heads.stop()

    def _pause(self, stop: threading.Event, heads: HeadWatcher | None) -> None:
        """Until the next head: announced by the subscription when there is one, else `poll_interval_s`."""
        if heads is not None and heads.connected.is_set():
            deadline = time.monotonic() + min(self.settings.idle_cycle_s, 60.0)
            while not stop.is_set() and time.monotonic() < deadline:
                if heads.wait(0.1):  # wakes at once on a head; the slices only let `stop` end the wait
                    return
            return
        stop.wait(self.settings.poll_interval_s)

    def _loop(self, stop: threading.Event, max_cycles: int | None, heads: HeadWatcher | None) -> None:
        last_cycle_at = 0.0
        seen_block: int | None = None
        failures = 0
        done = 0
        while not stop.is_set():
            try:
                number = int(self.pool.call(lambda w3: w3.eth.block_number, "eth_blockNumber"))
                due = number != seen_block or time.monotonic() - last_cycle_at >= self.settings.idle_cycle_s
                if due:
                    self.cycle()
                    self.watch_health()
                    seen_block = number
                    last_cycle_at = time.monotonic()
                    failures = 0
                    done += 1
                    if max_cycles is not None and done >= max_cycles:
                        return
            except Exception as exc:
                failures += 1
                self.metrics.cycle_errors.inc()
                log.error(
                    "cycle failed",
                    extra={"error": f"{type(exc).__name__}: {exc}", "failures": failures},
                    exc_info=failures == 1,
                )
                self.watch_health()
                stop.wait(min(30.0, self.settings.poll_interval_s * 2 ** min(failures, 5)))
                continue
            self._pause(stop, heads)

    def _notify(self, report: CycleReport) -> None:
        trips = (Kind.TRIP.value, Kind.TRIP_ATTESTED.value)
        for m in report.markets:
            if (
                m.action is not None
                and m.action.kind.value in trips
                and m.outcome
                and m.outcome.status == "sent"
            ):
                self.notifier.notify(
                    "trip_sent",
                    market=m.market_id,
                    action=m.action.kind.value,
                    tx=m.outcome.tx_hash,
                    block=report.block,
                    reason=m.action.reason,
                )
        for rec, receipt in report.landed:
            if rec.kind in trips and not rec.cancel and receipt["status"] == 1:
                self.notifier.notify(
                    "trip_landed",
                    market=rec.market_id,
                    action=rec.kind,
                    block=int(receipt["blockNumber"]),
                    nonce=rec.nonce,
                    blocks_waited=int(receipt["blockNumber"]) - rec.first_block,
                )

    def watch_health(self) -> bool:
        """Health now; notifies on a change (the first check only when unhealthy)."""
        ok, info = self.health()
        if ok != self._was_healthy and not (self._was_healthy is None and ok):
            self.notifier.notify(
                "keeper_healthy" if ok else "keeper_unhealthy",
                problems=info["problems"],
                last_block=info["last_block"],
            )
        self._was_healthy = ok
        return ok

    def _read_balance(self) -> None:
        sender = self.sender
        if sender is None or self.settings.dry_run:
            return
        try:
            self.balance_wei = int(
                self.pool.call(
                    lambda w3: rpc_result(w3, "eth_getBalance", [sender, "latest"]), "eth_getBalance"
                ),
                16,
            )
        except Exception as exc:  # noqa: BLE001 - a missed balance read never stops a cycle
            log.warning("balance read failed", extra={"error": type(exc).__name__})
            return
        low = self.balance_wei < self.settings.low_balance_eth * WAD
        self.metrics.balance.set(self.balance_wei / WAD)
        self.metrics.balance_low.set(int(low))

    def close(self) -> None:
        """Releases the key's lock (a process that dies releases it too)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.background.close()
        self.notifier.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """200 only when cycles run, the head is fresh, nothing is stuck and the balance pays for gas."""
        now = self.clock()
        age = None if self.last_ok is None else now - self.last_ok
        head_age = None if self.last_head_time is None else max(0.0, now - self.last_head_time)
        stuck = int(self.metrics.value("keeper_oldest_in_flight_blocks"))
        sending = self.sender is not None and not self.settings.dry_run
        low = (
            sending
            and self.balance_wei is not None
            and self.balance_wei < self.settings.low_balance_eth * WAD
        )
        problems = []
        if age is None or age > self.settings.health_max_age_s:
            problems.append("no recent successful cycle")
        if head_age is not None and head_age > self.settings.health_max_head_age_s:
            problems.append(f"latest block is {head_age:.0f} s old")
        if stuck > self.settings.health_max_stuck_blocks:
            problems.append(f"a transaction is in flight for {stuck} blocks")
        if low:
            problems.append(f"balance below {self.settings.low_balance_eth} ETH")
        ok = not problems
        self.metrics.healthy.set(int(ok))
        last_send = self.executor.last_sent_at
        return ok, {
            "ok": ok,
            "problems": problems,
            "last_cycle_age_s": age,
            "last_block": self.last_block,
            "head_age_s": head_age,
            "head_lag_blocks": self.metrics.value("keeper_head_lag_blocks"),
            "stuck_blocks": stuck,
            "cycles": self.cycles,
            "in_flight": len(self.executor.journal.items),
            "balance_eth": None if self.balance_wei is None else self.balance_wei / WAD,
            "last_send_age_s": None if last_send is None else now - last_send,
            "rpc": self.pool.current.name,
            "dry_run": self.settings.dry_run,
            "paused": self.executor.paused,
        }
