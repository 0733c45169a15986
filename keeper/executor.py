"""Sends the policy's actions: simulate, price, sign, broadcast, watch, replace.

- Simulate with eth_call first (at the `pending` block by default, which on anvil and geth
  includes transactions already in the pool): a transaction that would revert is never sent;
  the revert reason is logged. This is also what makes several keepers idempotent: once one
  keeper's trip is pending or mined, the others' simulations revert ("market is halted").
- A reopening auction's `settle(crossing)` goes to the auction, not the breaker: the crossing is
  read by eth_call (`crossing()`) at the simulation's block right before simulating and sending.
  Somebody else's settlement, pending or mined, makes the simulation revert ("market is not in
  auction"), so a settled round is never settled twice.
- EIP-1559 fees from eth_feeHistory: the configured reward percentile, its median over the
  window or over the last 3 blocks when that is higher, times an urgency multiplier, clamped; max fee = next base fee x multiplier + tip,
  never above the cap.
- A transaction not mined after `replace_after_blocks` blocks is re-signed with the same nonce and
  both fee fields raised by at least `bump_percent` (>= 10%). If the action would now revert
  (someone else did it), the replacement is a zero-value self-transfer that cancels it.
- Nonces are tracked locally and reconciled with the chain on "nonce too low", "already known",
  "replacement transaction underpriced" and gaps (an in-flight transaction the node forgot is
  re-broadcast; a nonce whose send failed is reused).
- In-flight transactions are journaled to disk, so a restarted keeper adopts them instead of
  sending duplicates. At most one transaction per market is in flight.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from keeper.abi import load_abi
from keeper.chain import RpcPool, RpcUnavailable, is_transport_error, make_web3
from keeper.config import FeeSettings, redact_url
from keeper.metrics import Metrics
from keeper.model import Action, Kind

log = logging.getLogger("keeper.executor")
GWEI = 10**9
# Used when eth_estimateGas cannot run the call at the block it will land in (confirmations).
DEFAULT_GAS = {
    Kind.ARM_TRIP: 250_000, Kind.TRIP: 400_000, Kind.TRIP_ATTESTED: 400_000, Kind.EXTEND_HALT: 200_000,
    Kind.ARM_RESUME: 250_000, Kind.RESUME: 400_000, Kind.SYNC: 300_000,
    # a full book (256 orders) settles in about 1.9 M gas with a right crossing; a stale one costs more
    Kind.SETTLE_AUCTION: 3_000_000,
}
CANCEL_GAS = 21_000
# Blocks whose reward percentile can lift the tip above the longer window's median.
RECENT_BLOCKS = 3


@dataclass(frozen=True)
class Fees:
    max_fee: int
    priority: int
    base_fee: int = 0

    def describe(self) -> str:
        return f"max {self.max_fee / GWEI:.3f} gwei, tip {self.priority / GWEI:.3f} gwei"


def suggest_fees(history: dict[str, Any], cfg: FeeSettings, urgency: float, node_tip: int | None = None) -> Fees:
    """EIP-1559 fees for the next block from an eth_feeHistory answer (one reward percentile)."""
    rewards = [int(r[0]) for r in (history.get("reward") or []) if r]
    nonzero = [r for r in rewards if r > 0]
    recent = [r for r in rewards[-RECENT_BLOCKS:] if r > 0]
    # The recent norm, or the market right now when it is hotter (a crash is when fees spike).
    tip = max(int(statistics.median(nonzero)), int(statistics.median(recent)) if recent else 0) if nonzero \
        else int(node_tip or 0)
    tip = int(tip * urgency)
    tip = max(int(cfg.min_priority_gwei * GWEI), min(tip, int(cfg.max_priority_gwei * GWEI)))
    base_next = int(history["baseFeePerGas"][-1])
    max_fee = int(base_next * cfg.base_fee_multiplier) + tip
    cap = int(cfg.max_fee_gwei * GWEI)
    if max_fee > cap:
        max_fee = cap
        if base_next + tip > cap:
            log.warning("fee cap below the next block's price", extra={
                "cap_gwei": float(cfg.max_fee_gwei), "base_fee_gwei": base_next / GWEI,
                "hint": "raise fees.max_fee_gwei or the transaction waits for the base fee to fall"})
    return Fees(max_fee, min(tip, max_fee), base_next)


def bumped(old: Fees, suggested: Fees, bump_percent: int, cap_wei: int) -> Fees | None:
    """Replacement fees: both fields at least +bump_percent over `old`, or the new suggestion if higher.

    None when the cap does not allow a valid replacement.
    """
    def up(x: int) -> int:
        return max(x + 1, math.ceil(x * (100 + bump_percent) / 100))

    tip = max(up(old.priority), suggested.priority)
    max_fee = max(up(old.max_fee), suggested.max_fee, tip)
    if max_fee > cap_wei:
        return None
    return Fees(max_fee, tip, suggested.base_fee)


@dataclass(frozen=True)
class Call:
    """One transaction of an action: target, calldata, the arguments it was encoded with."""

    to: str
    data: str
    args: tuple[int, ...]
    label: str


@dataclass
class InFlight:
    """A journaled transaction: every hash signed for this nonce, and the last raw bytes."""

    market_id: int
    kind: str
    args: list[int]
    nonce: int
    gas: int
    max_fee: int
    priority: int
    hashes: list[str]
    raw: str
    first_block: int
    sent_block: int
    replacements: int = 0
    cancel: bool = False
    via_relay: bool = False
    created: float = field(default_factory=time.time)
    to: str = ""  # the contract called; "" (journals written before auctions) is the breaker

    @property
    def fees(self) -> Fees:
        return Fees(self.max_fee, self.priority)

    @property
    def action(self) -> Action:
        kind = Kind(self.kind)
        if kind == Kind.SETTLE_AUCTION:
            return Action(kind, self.market_id, auction=self.to)
        lce = self.args[1] if len(self.args) > 1 else None
        return Action(kind, self.market_id, lce)


class Journal:
    """In-flight transactions on disk (atomic rewrite), keyed by nonce."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.items: dict[int, InFlight] = {}
        if path is not None and path.is_file():
            try:
                for raw in json.loads(path.read_text()):
                    rec = InFlight(**raw)
                    self.items[rec.nonce] = rec
            except (ValueError, TypeError) as exc:
                log.error("journal unreadable, starting empty", extra={"path": str(path), "error": str(exc)})

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in self.items.values()], indent=1))
        os.replace(tmp, self.path)

    def put(self, rec: InFlight) -> None:
        self.items[rec.nonce] = rec
        self.save()

    def drop(self, nonce: int) -> None:
        self.items.pop(nonce, None)
        self.save()

    def for_market(self, market_id: int) -> InFlight | None:
        return next((r for r in self.items.values() if r.market_id == market_id), None)


@dataclass
class Outcome:
    status: str  # sent | dry-run | reverted | in-flight | failed
    detail: str = ""
    tx_hash: str | None = None


def _msg(exc: BaseException) -> str:
    return str(exc).lower()


def _revert_reason(exc: ContractLogicError | Web3RPCError) -> str:
    if isinstance(exc, ContractLogicError):
        return (exc.message or str(exc)).removeprefix("execution reverted: ")
    return str(exc)


class Executor:
    def __init__(self, pool: RpcPool, breaker: str, abi: list[dict[str, Any]], fees: FeeSettings, *,
                 account: LocalAccount | None, sender: str | None, chain_id: int, metrics: Metrics,
                 journal_path: Path | None = None, dry_run: bool = False, simulate_block: str = "pending",
                 relay_url: str | None = None, relay_fallback_public: bool = False, timeout: float = 5.0,
                 clock: Callable[[], float] = time.time, auction_abi: list[dict[str, Any]] | None = None) -> None:
        if account is None and not dry_run:
            raise ValueError("an executor that sends needs a signing account")
        self.pool = pool
        self.breaker = Web3.to_checksum_address(breaker)
        self.contract = Web3().eth.contract(address=self.breaker, abi=abi)
        self.auction_abi = auction_abi
        self.fees = fees
        self.account = account
        self.sender = Web3.to_checksum_address(sender) if sender else (account.address if account else None)
        self.chain_id = chain_id
        self.metrics = metrics
        self.dry_run = dry_run
        self.simulate_block = simulate_block
        self.relay = make_web3(relay_url, timeout) if relay_url else None
        self.relay_label = redact_url(relay_url) if relay_url else None
        self.relay_fallback_public = relay_fallback_public
        self.clock = clock
        self.journal = Journal(journal_path)
        self._next_nonce: int | None = None
        self.metrics.in_flight.set(len(self.journal.items))

    # ------------------------------------------------------------ reads

    def calldata(self, action: Action) -> str:
        """Calldata of a breaker action (`prepare` builds every action's call, `settle` included)."""
        return self.contract.get_function_by_name(action.kind.value)(*action.args)._encode_transaction_data()

    def prepare(self, action: Action, block: str | None = None) -> Call:
        """The transaction for `action`. For `settle`, reads the auction's crossing at `block` now:
        the hint is then as fresh as the simulation that follows (a stale one costs gas, not the
        settlement). Raises ContractLogicError when `crossing()` itself reverts."""
        if action.kind != Kind.SETTLE_AUCTION:
            return Call(self.breaker, self.calldata(action), action.args, action.describe())
        if self.auction_abi is None:
            self.auction_abi = load_abi("ReopeningAuction")
        address, abi, at = Web3.to_checksum_address(action.auction), self.auction_abi, block or self.simulate_block
        crossing = int(self.pool.call(
            lambda w3: w3.eth.contract(address, abi=abi).functions.crossing().call(block_identifier=at), "crossing"))
        data = Web3().eth.contract(address, abi=abi).functions.settle(crossing)._encode_transaction_data()
        return Call(address, data, (crossing,), f"settle({crossing}) on auction {address} of market {action.market_id}")

    def simulate(self, call: Call, block: str | None = None) -> str | None:
        """None when the call succeeds at `block`; otherwise the revert reason."""
        tx = {"from": self.sender, "to": call.to, "data": call.data}
        try:
            self.pool.call(lambda w3: w3.eth.call(tx, block or self.simulate_block), "eth_call")
        except (ContractLogicError, Web3RPCError) as exc:
            return _revert_reason(exc)
        return None

    def prepare_and_simulate(self, action: Action, block: str | None = None) -> tuple[Call | None, str | None]:
        """(call, None) when the action would succeed at `block`, else (call or None, revert reason)."""
        try:
            call = self.prepare(action, block)
        except (ContractLogicError, Web3RPCError) as exc:
            return None, _revert_reason(exc)
        return call, self.simulate(call, block)

    def gas_limit(self, call: Call, kind: Kind) -> int:
        tx = {"from": self.sender, "to": call.to, "data": call.data}
        for block in (self.simulate_block, "latest"):
            try:
                est = self.pool.call(lambda w3, b=block: w3.eth.estimate_gas(tx, b), "eth_estimateGas")
                return int(est * (100 + self.fees.gas_margin_percent) / 100)
            except (ContractLogicError, Web3RPCError):
                continue
        return DEFAULT_GAS[kind]

    def suggest(self, urgent: bool) -> Fees:
        history = self.pool.call(lambda w3: w3.eth.fee_history(self.fees.history_blocks, "latest",
                                                               [self.fees.reward_percentile]), "eth_feeHistory")
        node_tip = None
        try:
            node_tip = self.pool.call(lambda w3: w3.eth.max_priority_fee, "eth_maxPriorityFeePerGas")
        except Web3RPCError:
            pass
        urgency = self.fees.urgency_trip if urgent else self.fees.urgency_resume
        return suggest_fees(dict(history), self.fees, urgency, node_tip)

    def _counts(self) -> tuple[int, int]:
        """The sender's transaction count at latest and at pending, in one batch request (one round trip)."""
        assert self.sender is not None
        sender = self.sender
        requests = [("eth_getTransactionCount", [sender, tag]) for tag in ("latest", "pending")]

        def read(w3: Web3) -> tuple[int, int]:
            answers = w3.provider.make_batch_request(requests)  # type: ignore[arg-type]
            if isinstance(answers, list) and len(answers) == 2 and all("result" in a for a in answers):
                return int(answers[0]["result"], 16), int(answers[1]["result"], 16)
            # the node refused one of them: asked one by one, web3 raises its error as for any request
            return (int(w3.eth.get_transaction_count(sender, "latest")),
                    int(w3.eth.get_transaction_count(sender, "pending")))

        return self.pool.call(read, "nonce")

    def reconcile_nonce(self) -> int:
        """Next nonce from the chain and the journal: max(latest, pending, last in flight + 1)."""
        latest, pending = self._counts()
        inflight = [n for n in self.journal.items if n >= latest]
        self._next_nonce = max([latest, pending] + [n + 1 for n in inflight])
        return self._next_nonce

    # ------------------------------------------------------------ sending

    def submit(self, action: Action, head_block: int) -> Outcome:
        """Simulates and (unless dry run) sends `action`; at most one transaction per market in flight."""
        name = action.kind.value
        pending = self.journal.for_market(action.market_id)
        if pending is not None:
            return Outcome("in-flight", f"{pending.kind} nonce {pending.nonce} not mined yet", pending.hashes[-1])
        call, reason = self.prepare_and_simulate(action)
        if reason is not None:
            self.metrics.sim_reverts.labels(name).inc()
            log.info("simulation reverted, not sending", extra={"action": action.describe(), "revert": reason})
            return Outcome("reverted", reason)
        assert call is not None
        if self.dry_run:
            self.metrics.dry_run.labels(name).inc()
            log.info("dry run: would send", extra={"action": call.label, "reason": action.reason})
            return Outcome("dry-run", call.label)
        gas = self.gas_limit(call, action.kind)
        fees = self.suggest(action.kind.urgent)
        if self._next_nonce is None:
            self.reconcile_nonce()
        tx = {"to": call.to, "data": call.data, "value": 0, "gas": gas}
        for attempt in range(3):
            nonce = self._next_nonce
            assert nonce is not None
            try:
                tx_hash, raw, via_relay = self._sign_and_send(tx, nonce, fees)
            except Web3RPCError as exc:
                m = _msg(exc)
                if "nonce too low" in m or "nonce is too low" in m or "already used" in m:
                    log.warning("nonce too low, reconciling with the chain", extra={"nonce": nonce})
                    self.reconcile_nonce()
                    continue
                if "underpriced" in m:
                    # Another transaction (not in our journal) holds this nonce in the pool.
                    _latest, pending = self._counts()
                    log.warning("nonce held by an unknown pending transaction",
                                extra={"nonce": nonce, "chain_pending": pending})
                    if pending > nonce:
                        self._next_nonce = pending
                    else:
                        fees = bumped(fees, fees, max(self.fees.bump_percent, 10),
                                      int(self.fees.max_fee_gwei * GWEI)) or fees
                    continue
                if "insufficient funds" in m:
                    log.error("keeper account cannot pay for gas: fund it", extra={
                        "address": self.sender, "action": action.describe()})
                    return Outcome("failed", "insufficient funds")
                log.error("send rejected", extra={"action": action.describe(), "error": str(exc)})
                return Outcome("failed", str(exc))
            except Exception as exc:
                if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                    raise
                log.error("send failed on every endpoint; will retry next cycle",
                          extra={"action": action.describe(), "error": str(exc)})
                return Outcome("failed", str(exc))
            rec = InFlight(action.market_id, name, list(call.args), nonce, gas, fees.max_fee, fees.priority,
                           [tx_hash], raw, head_block, head_block, via_relay=via_relay, to=call.to)
            self.journal.put(rec)
            self._next_nonce = nonce + 1
            self.metrics.tx_sent.labels(name).inc()
            self.metrics.in_flight.set(len(self.journal.items))
            log.info("transaction sent", extra={"action": call.label, "reason": action.reason, "nonce": nonce,
                                                "tx": tx_hash, "fees": fees.describe(), "gas": gas,
                                                "via": self.relay_label or "public"})
            return Outcome("sent", call.label, tx_hash)
        return Outcome("failed", "could not find a usable nonce after 3 attempts")

    def _sign_and_send(self, tx: dict[str, Any], nonce: int, fees: Fees) -> tuple[str, str, bool]:
        assert self.account is not None
        full = dict(tx, nonce=nonce, chainId=self.chain_id, type=2, maxFeePerGas=fees.max_fee,
                    maxPriorityFeePerGas=fees.priority)
        signed = self.account.sign_transaction(full)
        raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
        tx_hash = "0x" + signed.hash.hex().removeprefix("0x")
        via_relay = self._broadcast(raw)
        return tx_hash, raw, via_relay

    def _broadcast(self, raw: str) -> bool:
        """Sends raw bytes (relay first when configured); True when the relay took it.

        "already known" is success: the same bytes are in the pool.
        """
        def send(w3: Web3) -> None:
            try:
                w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                m = _msg(exc)
                if "already known" in m or "already imported" in m or "known transaction" in m:
                    return
                raise

        if self.relay is not None:
            try:
                send(self.relay)
                return True
            except Exception as exc:
                if not is_transport_error(exc) or not self.relay_fallback_public:
                    raise
                log.warning("private relay failed, falling back to public RPC",
                            extra={"relay": self.relay_label, "error": type(exc).__name__})
        self.pool.call(send, "eth_sendRawTransaction")
        return False

    # ------------------------------------------------------------ watching

    def _receipt(self, tx_hash: str) -> Any | None:
        try:
            return self.pool.call(lambda w3: w3.eth.get_transaction_receipt(tx_hash), "receipt")
        except TransactionNotFound:
            return None

    def _known(self, tx_hash: str) -> bool:
        try:
            self.pool.call(lambda w3: w3.eth.get_transaction(tx_hash), "get_transaction")
            return True
        except TransactionNotFound:
            return False

    def tick(self, head_block: int) -> list[tuple[InFlight, Any]]:
        """Settles mined transactions, replaces stuck ones, re-broadcasts forgotten ones.

        Returns the (record, receipt) pairs that landed in this tick.
        """
        landed: list[tuple[InFlight, Any]] = []
        if not self.journal.items:
            if self._next_nonce is not None and self.sender is not None and not self.dry_run:
                latest, pending = self._counts()
                if self._next_nonce > max(latest, pending):
                    log.warning("nonce gap: reusing nonces whose sends failed",
                                extra={"local": self._next_nonce, "chain": max(latest, pending)})
                    self._next_nonce = max(latest, pending)
            return landed
        latest_count: int | None = None
        for rec in sorted(self.journal.items.values(), key=lambda r: r.nonce):
            receipt = None
            for h in reversed(rec.hashes):
                receipt = self._receipt(h)
                if receipt is not None:
                    break
            if receipt is not None:
                ok = receipt["status"] == 1
                status = "success" if ok else "reverted"
                kind = "cancel" if rec.cancel else rec.kind
                self.metrics.tx_landed.labels(kind, status).inc()
                (log.info if ok else log.error)("transaction mined", extra={
                    "action": kind, "market": rec.market_id, "nonce": rec.nonce, "status": status,
                    "tx": receipt["transactionHash"].to_0x_hex() if hasattr(receipt["transactionHash"], "to_0x_hex")
                    else str(receipt["transactionHash"]),
                    "block": receipt["blockNumber"], "blocks_waited": receipt["blockNumber"] - rec.first_block,
                    "replacements": rec.replacements})
                self.journal.drop(rec.nonce)
                landed.append((rec, receipt))
                continue
            if latest_count is None:
                latest_count, _ = self._counts()
            if latest_count > rec.nonce:
                log.warning("nonce used by a transaction we did not sign or lost; giving up this record",
                            extra={"action": rec.kind, "nonce": rec.nonce})
                self.metrics.tx_dropped.labels(rec.kind).inc()
                self.journal.drop(rec.nonce)
                continue
            if head_block - rec.sent_block >= self.fees.replace_after_blocks:
                self._replace(rec, head_block)
            elif not rec.via_relay and not self._known(rec.hashes[-1]):
                log.warning("in-flight transaction unknown to the node: re-broadcasting",
                            extra={"action": rec.kind, "nonce": rec.nonce, "tx": rec.hashes[-1]})
                try:
                    self._broadcast(rec.raw)
                except Web3RPCError as exc:
                    # e.g. its max fee is now below the base fee: re-price it instead of waiting
                    log.warning("re-broadcast refused: replacing", extra={"error": str(exc)})
                    self._replace(rec, head_block)
                except Exception as exc:  # noqa: BLE001 - next tick tries again
                    log.warning("re-broadcast failed", extra={"error": str(exc)})
        self.metrics.in_flight.set(len(self.journal.items))
        return landed

    def _replace(self, rec: InFlight, head_block: int) -> None:
        action = rec.action
        cancel = rec.cancel
        call = None
        if not cancel:
            # rebuilt at the latest block: a settlement's replacement carries a fresh crossing
            call, reason = self.prepare_and_simulate(action, "latest")
            if reason is not None:
                log.warning("stuck transaction would now revert: cancelling it",
                            extra={"action": action.describe(), "revert": reason, "nonce": rec.nonce})
                cancel = True
        suggested = self.suggest(urgent=Kind(rec.kind).urgent)
        new = bumped(rec.fees, suggested, self.fees.bump_percent, int(self.fees.max_fee_gwei * GWEI))
        if new is None:
            log.error("cannot replace: fee cap reached", extra={
                "action": rec.kind, "nonce": rec.nonce, "fees": rec.fees.describe(),
                "hint": "raise fees.max_fee_gwei"})
            rec.sent_block = head_block
            self.journal.put(rec)
            return
        if cancel or call is None:
            tx = {"to": self.sender, "data": "0x", "value": 0, "gas": CANCEL_GAS}
        else:
            tx = {"to": call.to, "data": call.data, "value": 0, "gas": rec.gas}
        try:
            tx_hash, raw, via_relay = self._sign_and_send(tx, rec.nonce, new)
        except Web3RPCError as exc:
            m = _msg(exc)
            if "underpriced" in m:
                # The node wants more (anvil +5%, geth +10%, some +12.5%): remember the higher ask.
                log.warning("replacement underpriced, bumping again next block", extra={"nonce": rec.nonce})
                rec.max_fee, rec.priority = new.max_fee, new.priority
                self.journal.put(rec)
                return
            if "nonce too low" in m:
                return  # mined meanwhile: the next tick reads its receipt
            log.error("replacement rejected", extra={"nonce": rec.nonce, "error": str(exc)})
            return
        except Exception as exc:
            if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                raise
            log.error("replacement failed on every endpoint", extra={"error": str(exc)})
            return
        rec.hashes.append(tx_hash)
        rec.raw = raw
        rec.max_fee, rec.priority = new.max_fee, new.priority
        rec.sent_block = head_block
        rec.replacements += 1
        rec.cancel = cancel
        rec.via_relay = via_relay
        if call is not None and not cancel:
            rec.args = list(call.args)
        if cancel:
            rec.gas = CANCEL_GAS
        self.journal.put(rec)
        self.metrics.tx_replaced.labels(rec.kind).inc()
        log.info("transaction replaced", extra={"action": "cancel" if cancel else rec.kind, "nonce": rec.nonce,
                                                "tx": tx_hash, "fees": new.describe(),
                                                "replacements": rec.replacements})
