"""Sends the policy's actions: simulate, price, sign, journal, broadcast, watch, replace, sweep.

- Simulate with eth_call first (at the `pending` block by default, which on anvil and geth
  includes transactions already in the pool): a transaction that would revert is never sent;
  the revert reason is logged. This is also what makes several keepers idempotent: once one
  keeper's trip is pending or mined, the others' simulations revert ("market is halted").
  An RPC error is not a revert: it is logged as an error and counted, and a node refusing the
  `pending` tag is asked again at `latest`.
- A pending transaction that does the keeper's job (anyone's arm in the mempool) is waited on
  for `foreign_wait_blocks` blocks (the simulation at `pending` reverts while the one at `latest`
  passes); if it has not landed by then, the keeper sends its own.
- A reopening auction's `settle(crossing)` goes to the auction, not the breaker: the crossing is
  read by eth_call (`crossing()`) at the simulation's block right before simulating and sending.
- Fees: keeper/fees.py. A transaction not mined after `replace_after_blocks` blocks is re-signed
  with the same nonce and both fee fields raised by at least `bump_percent` (>= 10%). If the
  action would now revert (someone else did it), the replacement is a zero-value self-transfer.
- Every transaction is journaled (keeper/journal.py, fsynced) before it is broadcast, so the
  keeper's own pending nonces are always known to it. A pending nonce the journal does not know
  (a journal lost or corrupted, the key used elsewhere) is swept: after `sweep_after_blocks` it
  is replaced by a zero-value self-transfer priced to outbid it, so it cannot wedge the markets
  queued behind it.
- Nonces are tracked locally and reconciled with the chain on "nonce too low", "already known",
  "replacement transaction underpriced" and gaps.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams

from keeper.abi import load_abi
from keeper.chain import (
    RpcPool,
    RpcUnavailable,
    is_transport_error,
    json_rpc,
    json_rpc_batch,
    make_web3,
    rpc_error_code,
)
from keeper.config import FeeSettings, redact_url
from keeper.fees import GWEI, Fees, bumped, first_send_ceiling, suggest_fees
from keeper.journal import CANCEL_KIND, InFlight, Journal
from keeper.metrics import Metrics
from keeper.model import Action, Kind
from keeper.signer import Signer, SignerError

log = logging.getLogger("keeper.executor")
# The blocks a simulation runs at: `pending` sees the mempool (anvil, geth), `latest` only what is mined.
BlockTag = Literal["pending", "latest"]
# Used when eth_estimateGas cannot run the call at the block it will land in (confirmations).
DEFAULT_GAS = {
    Kind.ARM_TRIP: 250_000,
    Kind.TRIP: 400_000,
    Kind.TRIP_ATTESTED: 400_000,
    Kind.EXTEND_HALT: 200_000,
    Kind.ARM_RESUME: 250_000,
    Kind.RESUME: 400_000,
    Kind.SYNC: 300_000,
    # a full book (256 orders) settles in about 1.9 M gas with a right crossing; a stale one costs more
    Kind.SETTLE_AUCTION: 3_000_000,
}
CANCEL_GAS = 21_000
# Price rises tried within one cycle when a swept nonce's holder outbids the cancel.
SWEEP_ESCALATIONS = 8


@dataclass(frozen=True)
class Call:
    """One transaction of an action: target, calldata, the arguments it was encoded with."""

    to: str
    data: str
    args: tuple[int, ...]
    label: str


@dataclass
class Outcome:
    status: str  # sent | dry-run | reverted | waiting | in-flight | failed | error
    detail: str = ""
    tx_hash: str | None = None


@dataclass(frozen=True)
class Simulation:
    """An eth_call's verdict: passes, reverts (`revert` holds the reason) or fails to run (`error`)."""

    revert: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.revert is None and self.error is None


def _msg(exc: BaseException) -> str:
    return str(exc).lower()


def _is_revert(exc: BaseException) -> bool:
    """A call that reverted, as opposed to a node that could not run it (bad tag, method missing)."""
    if isinstance(exc, ContractLogicError):
        return True
    if isinstance(exc, Web3RPCError):
        return rpc_error_code(exc) == 3 or "revert" in _msg(exc)
    return False


def _revert_reason(exc: BaseException) -> str:
    if isinstance(exc, ContractLogicError):
        return (exc.message or str(exc)).removeprefix("execution reverted: ")
    return str(exc)


class Executor:
    def __init__(
        self,
        pool: RpcPool,
        breaker: str,
        abi: list[dict[str, Any]],
        fees: FeeSettings,
        *,
        account: Signer | None,
        sender: str | None,
        chain_id: int,
        metrics: Metrics,
        journal_path: Path | None = None,
        dry_run: bool = False,
        simulate_block: BlockTag = "pending",
        relay_url: str | None = None,
        relay_fallback_public: bool = False,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        auction_abi: list[dict[str, Any]] | None = None,
        foreign_wait_blocks: int = 2,
        sweep_after_blocks: int = 1,
        defer_blocks: int = 0,
    ) -> None:
        if account is None and not dry_run:
            raise ValueError("an executor that sends needs a signing account")
        self.pool = pool
        self.breaker = Web3.to_checksum_address(breaker)
        self.contract = Web3().eth.contract(address=self.breaker, abi=abi)
        self.auction_abi = auction_abi
        self.fees = fees
        self.cap_wei = int(fees.max_fee_gwei * GWEI)
        self.ceiling_wei = first_send_ceiling(self.cap_wei, fees.bump_percent)
        self.account = account
        self.sender: ChecksumAddress | None = (
            Web3.to_checksum_address(sender)
            if sender
            else (Web3.to_checksum_address(account.address) if account else None)
        )
        self.chain_id = chain_id
        self.metrics = metrics
        self.dry_run = dry_run
        self.simulate_block = simulate_block
        self.relay = make_web3(relay_url, timeout) if relay_url else None
        self.relay_label = redact_url(relay_url) if relay_url else None
        self.relay_fallback_public = relay_fallback_public
        self.clock = clock
        self.foreign_wait_blocks = foreign_wait_blocks
        self.sweep_after_blocks = sweep_after_blocks
        self.journal = Journal(journal_path)
        self._next_nonce: int | None = None
        # (market, action) -> first block a pending transaction of someone else's made it revert
        self._foreign_since: dict[tuple[int, str], int] = {}
        # pending nonce the journal does not know -> first block it was seen
        self._unknown_since: dict[int, int] = {}
        self.last_counts: tuple[int, int] | None = None
        self.last_sent_at: float | None = None
        self.paused = False  # `keeper pause`: decide and watch, send nothing
        self.defer_blocks = defer_blocks
        self._due_since: dict[int, tuple[str, int]] = {}  # market -> (action, first block it was due)
        self.metrics.in_flight.set(len(self.journal.items))

    # ------------------------------------------------------------ reads

    def calldata(self, action: Action) -> str:
        """Calldata of a breaker action (`prepare` builds every action's call, `settle` included)."""
        return self.contract.get_function_by_name(action.kind.value)(*action.args)._encode_transaction_data()

    def prepare(self, action: Action, block: BlockTag | None = None) -> Call:
        """The transaction for `action`. For `settle`, reads the auction's crossing at `block` now:
        the hint is then as fresh as the simulation that follows (a stale one costs gas, not the
        settlement). Raises ContractLogicError when `crossing()` itself reverts."""
        if action.kind != Kind.SETTLE_AUCTION:
            return Call(self.breaker, self.calldata(action), action.args, action.describe())
        if self.auction_abi is None:
            self.auction_abi = load_abi("ReopeningAuction")
        address, abi = Web3.to_checksum_address(action.auction), self.auction_abi
        at: BlockTag = block or self.simulate_block
        crossing = int(
            self.pool.call(
                lambda w3: w3.eth.contract(address, abi=abi).functions.crossing().call(block_identifier=at),
                "crossing",
            )
        )
        data = Web3().eth.contract(address, abi=abi).functions.settle(crossing)._encode_transaction_data()
        return Call(
            address,
            data,
            (crossing,),
            f"settle({crossing}) on auction {address} of market {action.market_id}",
        )

    def _call_tx(self, call: Call) -> TxParams:
        """The call as an eth_call / eth_estimateGas request, from the keeper's account when it has one."""
        tx: TxParams = {"to": call.to, "data": HexStr(call.data)}
        if self.sender is not None:
            tx["from"] = self.sender
        return tx

    def simulate(self, call: Call, block: BlockTag | None = None) -> Simulation:
        """Whether the call passes at `block`: a revert (with its reason) or an RPC error are told apart."""
        tx = self._call_tx(call)
        try:
            self.pool.call(lambda w3: w3.eth.call(tx, block or self.simulate_block), "eth_call")
        except (ContractLogicError, Web3RPCError) as exc:
            return Simulation(revert=_revert_reason(exc)) if _is_revert(exc) else Simulation(error=str(exc))
        return Simulation()

    def prepare_and_simulate(
        self, action: Action, block: BlockTag | None = None
    ) -> tuple[Call | None, Simulation]:
        """The call and its simulation at `block` (`call` is None when preparing it reverted or failed)."""
        try:
            call = self.prepare(action, block)
        except (ContractLogicError, Web3RPCError) as exc:
            return None, (
                Simulation(revert=_revert_reason(exc)) if _is_revert(exc) else Simulation(error=str(exc))
            )
        return call, self.simulate(call, block)

    def gas_limit(self, call: Call, kind: Kind) -> int:
        tx = self._call_tx(call)
        blocks: tuple[BlockTag, ...] = (self.simulate_block, "latest")
        for block in blocks:

            def estimate(w3: Web3, at: BlockTag = block) -> int:
                return w3.eth.estimate_gas(tx, at)

            try:
                est = self.pool.call(estimate, "eth_estimateGas")
                return int(est * (100 + self.fees.gas_margin_percent) / 100)
            except (ContractLogicError, Web3RPCError):
                continue
        return DEFAULT_GAS[kind]

    def suggest(self, urgent: bool) -> Fees:
        history = self.pool.call(
            lambda w3: w3.eth.fee_history(self.fees.history_blocks, "latest", [self.fees.reward_percentile]),
            "eth_feeHistory",
        )
        node_tip = None
        with contextlib.suppress(Web3RPCError):
            node_tip = self.pool.call(lambda w3: w3.eth.max_priority_fee, "eth_maxPriorityFeePerGas")
        urgency = self.fees.urgency_trip if urgent else self.fees.urgency_resume
        return suggest_fees(dict(history), self.fees, urgency, node_tip, ceiling_wei=self.ceiling_wei)

    def _counts(self) -> tuple[int, int]:
        """The sender's transaction count at latest and at pending, in one batch request (one round trip)."""
        assert self.sender is not None
        sender = self.sender
        requests = [("eth_getTransactionCount", [sender, tag]) for tag in ("latest", "pending")]

        def read(w3: Web3) -> tuple[int, int]:
            answers = json_rpc_batch(w3, requests)
            if isinstance(answers, list) and len(answers) == 2 and all("result" in a for a in answers):
                return int(answers[0]["result"], 16), int(answers[1]["result"], 16)
            # the node refused one of them: asked one by one, web3 raises its error as for any request
            return (
                int(w3.eth.get_transaction_count(sender, "latest")),
                int(w3.eth.get_transaction_count(sender, "pending")),
            )

        self.last_counts = self.pool.call(read, "nonce")
        return self.last_counts

    def reconcile_nonce(self) -> int:
        """Next nonce from the chain and the journal: max(latest, pending, last in flight + 1)."""
        latest, pending = self._counts()
        inflight = [n for n in self.journal.items if n >= latest]
        self._next_nonce = max([latest, pending] + [n + 1 for n in inflight])
        return self._next_nonce

    # ------------------------------------------------------------ deciding to send

    def _simulate_for_send(self, action: Action, head_block: int) -> tuple[Call | None, Outcome | None]:
        """(call, None) to go ahead; (None, outcome) to stop here and report why."""
        name = action.kind.value
        key = (action.market_id, name)
        call, sim = self.prepare_and_simulate(action)
        if sim.error is not None:
            self.metrics.sim_errors.labels(name).inc()
            log.error(
                "simulation could not run (RPC error, not a revert)",
                extra={"action": action.describe(), "block": self.simulate_block, "error": sim.error},
            )
            if self.simulate_block == "latest":
                return None, Outcome("error", sim.error)
            # e.g. a provider refusing the `pending` tag: a keeper that cannot simulate must not go silent
            call, sim = self.prepare_and_simulate(action, "latest")
            if sim.error is not None:
                return None, Outcome("error", sim.error)
            if sim.revert is None:
                log.warning(
                    "simulated at latest instead",
                    extra={"action": action.describe(), "hint": "set simulate_block: latest"},
                )
        if sim.revert is not None and self.simulate_block == "pending":
            later, at_latest = self.prepare_and_simulate(action, "latest")
            if at_latest.ok:
                # A pending transaction (anyone's arm, another keeper's trip) would do it: wait, bounded.
                first = self._foreign_since.setdefault(key, head_block)
                if head_block - first < self.foreign_wait_blocks:
                    self.metrics.sim_reverts.labels(name).inc()
                    log.info(
                        "a pending transaction would do this: waiting for it",
                        extra={
                            "action": action.describe(),
                            "revert_at_pending": sim.revert,
                            "waited_blocks": head_block - first,
                            "wait_blocks": self.foreign_wait_blocks,
                        },
                    )
                    return None, Outcome("reverted", sim.revert)
                log.warning(
                    "pending transaction not mined in time: sending ours",
                    extra={
                        "action": action.describe(),
                        "revert_at_pending": sim.revert,
                        "waited_blocks": head_block - first,
                    },
                )
                self._foreign_since.pop(key, None)
                return later, None
        self._foreign_since.pop(key, None)
        if sim.revert is not None:
            self.metrics.sim_reverts.labels(name).inc()
            log.info(
                "simulation reverted, not sending", extra={"action": action.describe(), "revert": sim.revert}
            )
            return None, Outcome("reverted", sim.revert)
        return call, None

    # ------------------------------------------------------------ sending

    def submit(self, action: Action, head_block: int) -> Outcome:
        """Simulates and (unless dry run) sends `action`; at most one transaction per market in flight."""
        name = action.kind.value
        pending = self.journal.for_market(action.market_id)
        if pending is not None:
            return Outcome(
                "in-flight", f"{pending.kind} nonce {pending.nonce} not mined yet", pending.hashes[-1]
            )
        if self.defer_blocks:
            kind, since = self._due_since.get(action.market_id, ("", -1))
            if kind != name:
                since = head_block
                self._due_since[action.market_id] = (name, since)
            if head_block - since < self.defer_blocks:
                log.info(
                    "secondary keeper: deferring to the primary",
                    extra={
                        "action": action.describe(),
                        "due_blocks": head_block - since,
                        "defer_blocks": self.defer_blocks,
                    },
                )
                return Outcome("deferred", f"{head_block - since} of {self.defer_blocks} blocks")
        call, stop = self._simulate_for_send(action, head_block)
        if stop is not None:
            return stop
        assert call is not None
        if self.dry_run:
            self.metrics.dry_run.labels(name).inc()
            log.info("dry run: would send", extra={"action": call.label, "reason": action.reason})
            return Outcome("dry-run", call.label)
        if self.paused:
            log.warning("sending paused: not sent", extra={"action": call.label, "reason": action.reason})
            return Outcome("paused", call.label)
        gas = self.gas_limit(call, action.kind)
        fees = self.suggest(action.kind.urgent)
        if self._next_nonce is None:
            self.reconcile_nonce()
        tx = {"to": call.to, "data": call.data, "value": 0, "gas": gas}
        for _attempt in range(3):
            nonce = self._next_nonce
            assert nonce is not None
            try:
                rec = self._sign(
                    tx,
                    nonce,
                    fees,
                    market_id=action.market_id,
                    kind=name,
                    args=list(call.args),
                    head_block=head_block,
                )
            except SignerError as exc:
                self.metrics.sends.labels(name, "signer_error").inc()
                log.error(
                    "signer failed: nothing sent", extra={"action": action.describe(), "error": str(exc)}
                )
                return Outcome("failed", str(exc))
            try:
                rec.via_relay = self._broadcast(rec.raw)
            except Web3RPCError as exc:
                self.journal.drop(nonce)  # the node answered: these bytes are not in its pool
                m = _msg(exc)
                if "nonce too low" in m or "nonce is too low" in m or "already used" in m:
                    self.metrics.sends.labels(name, "nonce_too_low").inc()
                    log.warning("nonce too low, reconciling with the chain", extra={"nonce": nonce})
                    self.reconcile_nonce()
                    continue
                if "underpriced" in m:
                    # Another transaction (not in our journal) holds this nonce in the pool.
                    self.metrics.sends.labels(name, "underpriced").inc()
                    _latest, chain_pending = self._counts()
                    log.warning(
                        "nonce held by an unknown pending transaction",
                        extra={"nonce": nonce, "chain_pending": chain_pending},
                    )
                    if chain_pending > nonce:
                        self._next_nonce = chain_pending
                    else:
                        fees = bumped(fees, fees, self.fees.bump_percent, self.cap_wei) or fees
                    continue
                if "insufficient funds" in m:
                    self.metrics.sends.labels(name, "insufficient_funds").inc()
                    log.error(
                        "keeper account cannot pay for gas: fund it",
                        extra={"address": self.sender, "action": action.describe()},
                    )
                    return Outcome("failed", "insufficient funds")
                self.metrics.sends.labels(name, "rejected").inc()
                log.error("send rejected", extra={"action": action.describe(), "error": str(exc)})
                return Outcome("failed", str(exc))
            except Exception as exc:
                if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                    raise
                # The answer is lost, not the transaction: it stays journaled, and the next ticks find its
                # receipt or re-broadcast it. Its nonce is taken.
                self._next_nonce = nonce + 1
                self.metrics.sends.labels(name, "unconfirmed").inc()
                self.metrics.in_flight.set(len(self.journal.items))
                log.error(
                    "send failed on every endpoint; journaled, re-broadcast next cycle",
                    extra={
                        "action": action.describe(),
                        "nonce": nonce,
                        "tx": rec.hashes[-1],
                        "error": str(exc),
                    },
                )
                return Outcome("failed", str(exc), rec.hashes[-1])
            self.journal.put(rec)  # via_relay as it went out
            self._next_nonce = nonce + 1
            self._sent(name)
            log.info(
                "transaction sent",
                extra={
                    "action": call.label,
                    "reason": action.reason,
                    "nonce": nonce,
                    "tx": rec.hashes[-1],
                    "fees": fees.describe(),
                    "gas": gas,
                    "via": self.relay_label or "public",
                },
            )
            return Outcome("sent", call.label, rec.hashes[-1])
        self.metrics.sends.labels(name, "no_nonce").inc()
        return Outcome("failed", "could not find a usable nonce after 3 attempts")

    def idle(self, market_id: int) -> None:
        """The policy wants nothing for this market now: a later action starts its deferral afresh."""
        self._due_since.pop(market_id, None)

    def _sent(self, name: str) -> None:
        self.metrics.tx_sent.labels(name).inc()
        self.metrics.sends.labels(name, "sent").inc()
        self.metrics.in_flight.set(len(self.journal.items))
        self.last_sent_at = self.clock()
        self.metrics.last_send.set(self.last_sent_at)

    def _signed(self, tx: dict[str, Any], nonce: int, fees: Fees) -> tuple[str, str]:
        assert self.account is not None
        full = dict(
            tx,
            nonce=nonce,
            chainId=self.chain_id,
            type=2,
            maxFeePerGas=fees.max_fee,
            maxPriorityFeePerGas=fees.priority,
        )
        signed = self.account.sign_transaction(full)
        raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
        tx_hash = "0x" + signed.hash.hex().removeprefix("0x")
        return tx_hash, raw

    def _sign(
        self,
        tx: dict[str, Any],
        nonce: int,
        fees: Fees,
        *,
        market_id: int,
        kind: str,
        args: list[int],
        head_block: int,
        cancel: bool = False,
    ) -> InFlight:
        """Signs and journals (fsynced) a first send: on disk before any node can have it."""
        tx_hash, raw = self._signed(tx, nonce, fees)
        rec = InFlight(
            market_id,
            kind,
            args,
            nonce,
            int(tx["gas"]),
            fees.max_fee,
            fees.priority,
            [tx_hash],
            raw,
            head_block,
            head_block,
            cancel=cancel,
            via_relay=self.relay is not None,
            to=tx["to"],
        )
        self.journal.put(rec)
        return rec

    def _broadcast(self, raw: str) -> bool:
        """Sends raw bytes (relay first when configured); True when the relay took it.

        "already known" is success: the same bytes are in the pool.
        """

        def send(w3: Web3) -> None:
            try:
                w3.eth.send_raw_transaction(HexStr(raw))
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
                self.metrics.relay_errors.labels("transport" if is_transport_error(exc) else "rejected").inc()
                if not is_transport_error(exc) or not self.relay_fallback_public:
                    raise
                log.warning(
                    "private relay failed, falling back to public RPC",
                    extra={"relay": self.relay_label, "error": type(exc).__name__},
                )
        self.pool.call(send, "eth_sendRawTransaction")
        return False

    # ------------------------------------------------------------ watching

    def _receipt(self, tx_hash: str) -> Any | None:
        try:
            return self.pool.call(lambda w3: w3.eth.get_transaction_receipt(HexStr(tx_hash)), "receipt")
        except TransactionNotFound:
            return None

    def _known(self, tx_hash: str) -> bool:
        try:
            self.pool.call(lambda w3: w3.eth.get_transaction(HexStr(tx_hash)), "get_transaction")
            return True
        except TransactionNotFound:
            return False

    def tick(self, head_block: int) -> list[tuple[InFlight, Any]]:
        """Settles mined transactions, replaces stuck ones, re-broadcasts forgotten ones, sweeps nonces
        nobody journaled.

        Returns the (record, receipt) pairs that landed in this tick.
        """
        landed: list[tuple[InFlight, Any]] = []
        if self.sender is None or self.dry_run:
            return landed
        latest_count, pending_count = self._counts()
        chain_next = max(latest_count, pending_count)
        if not self.journal.items and self._next_nonce is not None and self._next_nonce > chain_next:
            log.warning(
                "nonce gap: reusing nonces whose sends failed",
                extra={"local": self._next_nonce, "chain": chain_next},
            )
            self._next_nonce = chain_next
        for rec in sorted(self.journal.items.values(), key=lambda r: r.nonce):
            receipt = None
            for h in reversed(rec.hashes):
                receipt = self._receipt(h)
                if receipt is not None:
                    break
            if receipt is not None:
                self._landed(rec, receipt)
                landed.append((rec, receipt))
                continue
            if latest_count > rec.nonce:
                log.warning(
                    "nonce used by a transaction we did not sign or lost; giving up this record",
                    extra={"action": rec.kind, "nonce": rec.nonce},
                )
                self.metrics.tx_dropped.labels(rec.kind).inc()
                self.journal.drop(rec.nonce)
                continue
            if self.paused:
                continue
            if head_block - rec.sent_block >= self.fees.replace_after_blocks:
                self._replace(rec, head_block)
            elif not rec.via_relay and not self._known(rec.hashes[-1]):
                log.warning(
                    "in-flight transaction unknown to the node: re-broadcasting",
                    extra={"action": rec.kind, "nonce": rec.nonce, "tx": rec.hashes[-1]},
                )
                try:
                    self._broadcast(rec.raw)
                except Web3RPCError as exc:
                    # e.g. its max fee is now below the base fee: re-price it instead of waiting
                    log.warning("re-broadcast refused: replacing", extra={"error": str(exc)})
                    self._replace(rec, head_block)
                except Exception as exc:  # noqa: BLE001 - next tick tries again
                    log.warning("re-broadcast failed", extra={"error": str(exc)})
        if not self.paused:
            self._sweep(head_block, latest_count, pending_count)
        self.metrics.in_flight.set(len(self.journal.items))
        oldest = min((r.first_block for r in self.journal.items.values()), default=None)
        self.metrics.stuck_blocks.set(0 if oldest is None else max(0, head_block - oldest))
        return landed

    def _landed(self, rec: InFlight, receipt: Any) -> None:
        ok = receipt["status"] == 1
        status = "success" if ok else "reverted"
        kind = "cancel" if rec.cancel else rec.kind
        self.metrics.tx_landed.labels(kind, status).inc()
        price = int(receipt.get("effectiveGasPrice") or 0)
        self.metrics.gas_spent.labels(kind).inc(int(receipt["gasUsed"]) * price / 10**18)
        (log.info if ok else log.error)(
            "transaction mined",
            extra={
                "action": kind,
                "market": rec.market_id,
                "nonce": rec.nonce,
                "status": status,
                "tx": receipt["transactionHash"].to_0x_hex()
                if hasattr(receipt["transactionHash"], "to_0x_hex")
                else str(receipt["transactionHash"]),
                "block": receipt["blockNumber"],
                "blocks_waited": receipt["blockNumber"] - rec.first_block,
                "replacements": rec.replacements,
            },
        )
        self.journal.drop(rec.nonce)
        self._unknown_since.pop(rec.nonce, None)

    # ------------------------------------------------------------ sweeping unknown nonces

    def unknown_nonces(self, latest: int, pending: int) -> list[int]:
        """Nonces between the mined count and the highest pending or journaled one that the journal does
        not hold: someone else's transaction at the keeper's nonce, or a hole that queues the journal's."""
        top = max([pending] + [n + 1 for n in self.journal.items])
        return [n for n in range(latest, top) if n not in self.journal.items]

    def _sweep(self, head_block: int, latest: int, pending: int) -> None:
        unknown = self.unknown_nonces(latest, pending)
        self._unknown_since = {n: self._unknown_since.get(n, head_block) for n in unknown}
        self.metrics.unknown_nonces.set(len(unknown))
        swept = []
        for nonce in unknown:
            seen = self._unknown_since[nonce]
            if head_block - seen < self.sweep_after_blocks:
                log.warning(
                    "pending nonce not in the journal: sweeping it if it is still there next block",
                    extra={"nonce": nonce, "latest": latest, "pending": pending},
                )
                continue
            if self._cancel_unknown(nonce, head_block):
                swept.append(nonce)
        if swept:
            # Transactions queued behind the swept nonce were priced for a block they could not enter:
            # re-price them now, so that they land with the cancel rather than a replacement period later.
            for rec in sorted(self.journal.items.values(), key=lambda r: r.nonce):
                if rec.nonce > min(swept) and rec.kind != CANCEL_KIND and rec.sent_block < head_block:
                    self._replace(rec, head_block)

    def _holder_fees(self, nonce: int) -> Fees | None:
        """Fees of the pending transaction holding `nonce`, where the node serves
        eth_getTransactionBySenderAndNonce (anvil, reth, erigon); None elsewhere."""
        try:
            tx = self.pool.call(
                lambda w3: json_rpc(w3, "eth_getTransactionBySenderAndNonce", [self.sender, hex(nonce)]),
                "holder",
            )
        except Exception:  # noqa: BLE001 - optional: the sweeper climbs instead
            return None
        found = tx.get("result") if isinstance(tx, dict) else None
        if not isinstance(found, dict) or found.get("blockNumber"):
            return None
        fee = found.get("maxFeePerGas") or found.get("gasPrice")
        if fee is None:
            return None
        tip = found.get("maxPriorityFeePerGas") or fee
        return Fees(int(fee, 16), int(tip, 16))

    def _cancel_unknown(self, nonce: int, head_block: int) -> bool:
        """Replaces whatever holds `nonce` with a zero-value self-transfer priced to outbid it: the price
        rises while the node says "underpriced", up to the fee cap. True when the node took the cancel."""
        fees = self.suggest(urgent=True)
        holder = self._holder_fees(nonce)
        if holder is not None:  # outbid it at once rather than climbing to its price
            fees = bumped(holder, fees, self.fees.bump_percent, self.cap_wei) or fees
        tx = {"to": self.sender, "data": "0x", "value": 0, "gas": CANCEL_GAS}
        for _ in range(SWEEP_ESCALATIONS):
            try:
                rec = self._sign(
                    tx,
                    nonce,
                    fees,
                    market_id=-1,
                    kind=CANCEL_KIND,
                    args=[],
                    head_block=head_block,
                    cancel=True,
                )
            except SignerError as exc:
                log.error("signer failed: cannot sweep", extra={"nonce": nonce, "error": str(exc)})
                return False
            try:
                rec.via_relay = self._broadcast(rec.raw)
            except Web3RPCError as exc:
                self.journal.drop(nonce)
                m = _msg(exc)
                if "nonce too low" in m:
                    return False  # mined meanwhile
                if "underpriced" not in m:
                    log.error("sweep rejected", extra={"nonce": nonce, "error": str(exc)})
                    return False
                # its price is unknown: double ours (a +bump% climb could take many blocks), then the cap
                doubled = Fees(min(2 * fees.max_fee, self.cap_wei), min(2 * fees.priority, self.cap_wei))
                higher = bumped(fees, doubled, self.fees.bump_percent, self.cap_wei)
                if higher is None:
                    log.error(
                        "cannot sweep: the transaction holding the nonce pays more than the fee cap",
                        extra={
                            "nonce": nonce,
                            "cap_gwei": float(self.fees.max_fee_gwei),
                            "hint": "raise fees.max_fee_gwei or `keeper cancel --nonce N`",
                        },
                    )
                    return False
                fees = higher
                continue
            except Exception as exc:
                if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                    raise
                log.error(
                    "sweep failed on every endpoint; journaled, re-broadcast next cycle",
                    extra={"nonce": nonce, "error": str(exc)},
                )
                return False
            self.journal.put(rec)
            self.metrics.swept.inc()
            self._next_nonce = max(self._next_nonce or 0, nonce + 1)
            log.warning(
                "unknown pending nonce swept: cancelled by a self-transfer",
                extra={"nonce": nonce, "tx": rec.hashes[-1], "fees": fees.describe()},
            )
            return True
        log.error("cannot sweep: still underpriced after raising the price", extra={"nonce": nonce})
        return False

    def _replace(self, rec: InFlight, head_block: int) -> None:
        cancel = rec.cancel or rec.kind == CANCEL_KIND
        call = None
        if not cancel:
            # rebuilt at the latest block: a settlement's replacement carries a fresh crossing
            call, sim = self.prepare_and_simulate(rec.action, "latest")
            if sim.revert is not None:
                log.warning(
                    "stuck transaction would now revert: cancelling it",
                    extra={"action": rec.action.describe(), "revert": sim.revert, "nonce": rec.nonce},
                )
                cancel = True
            elif sim.error is not None:
                log.error(
                    "simulation of the replacement could not run (RPC error): next tick tries again",
                    extra={"action": rec.kind, "nonce": rec.nonce, "error": sim.error},
                )
                return
        suggested = self.suggest(urgent=rec.kind == CANCEL_KIND or Kind(rec.kind).urgent)
        new = bumped(rec.fees, suggested, self.fees.bump_percent, self.cap_wei)
        if new is None:
            log.error(
                "cannot replace: fee cap reached",
                extra={
                    "action": rec.kind,
                    "nonce": rec.nonce,
                    "fees": rec.fees.describe(),
                    "hint": "raise fees.max_fee_gwei",
                },
            )
            rec.sent_block = head_block
            self.journal.put(rec)
            return
        cancel = cancel or call is None
        if cancel:
            tx = {"to": self.sender, "data": "0x", "value": 0, "gas": CANCEL_GAS}
        else:
            assert call is not None
            tx = {"to": call.to, "data": call.data, "value": 0, "gas": rec.gas}
        try:
            tx_hash, raw = self._signed(tx, rec.nonce, new)
        except SignerError as exc:
            log.error("signer failed: cannot replace", extra={"nonce": rec.nonce, "error": str(exc)})
            return
        previous = (list(rec.hashes), rec.raw, rec.max_fee, rec.priority, rec.cancel, rec.gas, list(rec.args))
        # Journaled before broadcasting: a crash here leaves both hashes known, whichever lands.
        rec.hashes.append(tx_hash)
        rec.raw = raw
        rec.max_fee, rec.priority = new.max_fee, new.priority
        rec.cancel = cancel
        if call is not None and not cancel:
            rec.args = list(call.args)
        if cancel:
            rec.gas = CANCEL_GAS
        self.journal.put(rec)
        try:
            via_relay = self._broadcast(raw)
        except Web3RPCError as exc:
            m = _msg(exc)
            rec.hashes, rec.raw, _, _, rec.cancel, rec.gas, rec.args = previous
            if "underpriced" in m:
                # The node wants more (anvil +5%, geth +10%, some +12.5%): remember the higher ask.
                log.warning("replacement underpriced, bumping again next block", extra={"nonce": rec.nonce})
                self.journal.put(rec)
                return
            rec.max_fee, rec.priority = previous[2], previous[3]
            self.journal.put(rec)
            if "nonce too low" in m:
                return  # mined meanwhile: the next tick reads its receipt
            log.error("replacement rejected", extra={"nonce": rec.nonce, "error": str(exc)})
            return
        except Exception as exc:
            if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                raise
            log.error("replacement failed on every endpoint", extra={"error": str(exc)})
            return
        rec.sent_block = head_block
        rec.replacements += 1
        rec.via_relay = via_relay
        self.journal.put(rec)
        self.metrics.tx_replaced.labels(rec.kind).inc()
        log.info(
            "transaction replaced",
            extra={
                "action": "cancel" if cancel else rec.kind,
                "nonce": rec.nonce,
                "tx": tx_hash,
                "fees": new.describe(),
                "replacements": rec.replacements,
            },
        )
