"""Watching what was sent: receipts settle the journal, a stuck transaction is replaced, one the node
forgot is re-broadcast, and nonces nobody journaled are swept (`Executor.tick`, once per block)."""

from __future__ import annotations

import logging
from typing import Any

from eth_typing import HexStr
from web3.exceptions import TransactionNotFound, Web3RPCError

from keeper.executor.sweeping import Sweeper
from keeper.journal import InFlight
from keeper.model import Kind

log = logging.getLogger("keeper.executor")


class Executor(Sweeper):
    """Sends the policy's actions and watches them until they land (keeper/executor/__init__.py)."""

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
                    mined = rec.mined_as(h)
                    break
            if receipt is not None:
                self._landed(mined, receipt)
                landed.append((mined, receipt))
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
        # A poke reverts when the pair it reads traded earlier in its block: expected now and then.
        (log.info if ok else log.warning if rec.kind == Kind.POKE.value else log.error)(
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
