"""What a replay records: every liquidation and write-off with its moment, trips, resumes, auctions,
prices and breaker states block by block, and what the actors were given (`Record`), read from each
mined block's events (`Recorder`, a part of `replay.engine.Engine`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3._utils.method_formatters import log_entry_formatter

from replay.actors.market import HALTED, NORMAL
from replay.world import WAD

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
    # the moment's prices and protection, for splitting losses by cause
    lending_price: float = 0.0  # the price the lending market liquidated at (its event)
    venue_price: float = 0.0  # the venue series
    pool_price: float = 0.0  # the pool's spot at the end of the block
    reference_price: float = 0.0  # the reference oracle
    state: int = NORMAL  # the breaker state at the end of the block (NORMAL without a breaker)
    banded: bool = False  # the pool sat at its band's lower limit


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
    # debt written off, one entry a write-off: t, block, borrower, amount (debt tokens) and the moment's
    # fair, lending, venue, pool and reference prices, breaker state and band
    bad_debt: list[dict[str, Any]] = field(default_factory=list)
    # USD (at the fair price) of what each actor was given rather than paid for: the market maker's and
    # flows' minted inventory, the LP's added liquidity, the DLP's and arbitrageur's funding
    given_usd: dict[str, float] = field(default_factory=dict)
    # the liquidator's sales of seized collateral: tokens to the pool and to the external market, and
    # the debt they fetched
    sales: dict[str, float] = field(
        default_factory=lambda: {"to_pool": 0.0, "to_external": 0.0, "proceeds": 0.0}
    )
    arbitrage_trades: int = 0


class Recorder:
    """Reads each mined block into the engine's `record` (see the module's docstring)."""

    # provided by the engine
    world: Any
    record: Record
    curves: Any
    scenario: Any
    watcher: Any
    positions: dict[str, list[float]]
    to_sell: int
    t0: int
    _decoders: dict[tuple[str, bytes], tuple[str, Any]]
    _head_block: dict[str, Any] | None
    _head: int
    _timestamp_set: bool
    keeper_transport: Any
    c: Any
    _read: Any
    _read_batch: Any
    _band: Any
    _breaker_state: Any

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
            return NORMAL
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
        liquidated_now: list[Liquidation] = []
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
                lending_price=a["price"] / WAD,
            )
            liquidated_now.append(liq)
            self.record.liquidations.append(liq)
            self.positions[a["borrower"]] = [a["collateral"] / wd.collateral_unit, a["debt"] / wd.debt_unit]
            self.to_sell += a["seized"]
        block = len(self.record.states) + 1
        for ev in events["MarketTripped"]:
            rule, reason = REASONS.get(ev["args"]["reason"], ("?", str(ev["args"]["reason"])))
            if self.watcher is not None:
                rule, reason = self.watcher.rule, self.watcher.reason
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
        venue = self.curves.venue_price.at(t)
        self.record.prices.append((t, venue, pool_price, ref))
        band = self._band()
        banded = band is not None and pool_price <= band[0] * 1.001
        moment = {"venue_price": venue, "pool_price": pool_price, "reference_price": ref, "state": state}
        for liq in liquidated_now:
            for key, value in moment.items():
                setattr(liq, key, value)
            liq.banded = banded
        lending_price = {
            (ev["transactionHash"], ev["args"]["borrower"]): ev["args"]["price"] / WAD
            for ev in events["Liquidated"]
        }
        for (tx_hash, borrower), amount in written_off.items():
            self.record.bad_debt.append(
                {
                    "t": t,
                    "block": number,
                    "borrower": borrower,
                    "amount": amount / wd.debt_unit,
                    "fair_price": fair,
                    "lending_price": lending_price.get((tx_hash, borrower), 0.0),
                    **moment,
                    "banded": banded,
                }
            )
