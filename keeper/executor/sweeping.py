"""Sweeping nonces the journal does not know.

A pending nonce the journal does not hold (a journal lost or corrupted, the key used elsewhere) is
swept: after `sweep_after_blocks` it is replaced by a zero-value self-transfer priced to outbid it,
so it cannot wedge the markets queued behind it.
"""

from __future__ import annotations

import logging

from web3.exceptions import Web3RPCError

from keeper.chain import RpcUnavailable, is_transport_error, json_rpc
from keeper.executor.calls import CANCEL_GAS, _msg
from keeper.executor.sending import Sender
from keeper.fees import Fees, bumped
from keeper.journal import CANCEL_KIND
from keeper.signer import SignerError

log = logging.getLogger("keeper.executor")
# Price rises tried within one cycle when a swept nonce's holder outbids the cancel.
SWEEP_ESCALATIONS = 8


class Sweeper(Sender):
    """Finds the sender's pending nonces the journal does not hold and cancels them."""

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
