"""The executor's state and the steps every send shares: build and simulate a call, estimate its gas,
price it (keeper/fees.py), count the sender's nonces, sign, journal and broadcast.

- Simulate with eth_call first (at the `pending` block by default, which on anvil and geth
  includes transactions already in the pool): a transaction that would revert is never sent;
  the revert reason is logged. This is also what makes several keepers idempotent: once one
  keeper's trip is pending or mined, the others' simulations revert ("market is halted").
  An RPC error is not a revert: it is logged as an error and counted, and a node refusing the
  `pending` tag is asked again at `latest`.
- A reopening auction's `settle(crossing)` goes to the auction, not the breaker: the crossing is
  read by eth_call (`crossing()`) at the simulation's block right before simulating and sending.
- Every transaction is journaled (keeper/journal.py, fsynced) before it is broadcast, so the
  keeper's own pending nonces are always known to it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxParams

from keeper.abi import load_abi
from keeper.chain import RpcPool, is_transport_error, json_rpc_batch, make_web3
from keeper.config import FeeSettings, redact_url
from keeper.executor.calls import (
    DEFAULT_GAS,
    BlockTag,
    Call,
    Simulation,
    _is_revert,
    _msg,
    _revert_reason,
)
from keeper.fees import GWEI, Fees, first_send_ceiling, suggest_fees
from keeper.journal import InFlight, Journal
from keeper.metrics import Metrics
from keeper.model import Action, Kind
from keeper.signer import Signer

log = logging.getLogger("keeper.executor")


class ExecutorCore:
    """The executor's state and shared steps. One executor, layered by concern: `Sender` (sending.py)
    adds sending and replacing, `Sweeper` (sweeping.py) sweeping, `Executor` (settlement.py) the tick."""

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
            output = self.pool.call(lambda w3: w3.eth.call(tx, block or self.simulate_block), "eth_call")
        except (ContractLogicError, Web3RPCError) as exc:
            return Simulation(revert=_revert_reason(exc)) if _is_revert(exc) else Simulation(error=str(exc))
        return Simulation(output=bytes(output))

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
