"""Sending an action and replacing a stuck transaction.

- A pending transaction that does the keeper's job (anyone's arm in the mempool) is waited on
  for `foreign_wait_blocks` blocks (the simulation at `pending` reverts while the one at `latest`
  passes); if it has not landed by then, the keeper sends its own.
- A transaction not mined after `replace_after_blocks` blocks is re-signed with the same nonce and
  both fee fields raised by at least `bump_percent` (>= 10%). If the action would now revert
  (someone else did it), the replacement is a zero-value self-transfer. A poke is never re-priced:
  any other action takes over its nonce instead.
- Nonces are tracked locally and reconciled with the chain on "nonce too low", "already known",
  "replacement transaction underpriced" and gaps.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from web3.exceptions import Web3RPCError

from keeper.chain import RpcUnavailable, is_transport_error
from keeper.executor.calls import CANCEL_GAS, DEFAULT_GAS, Call, Outcome, Simulation, _msg
from keeper.executor.core import ExecutorCore
from keeper.fees import GWEI, Fees, bumped
from keeper.journal import CANCEL_KIND, InFlight
from keeper.model import Action, Kind
from keeper.signer import SignerError

log = logging.getLogger("keeper.executor")


class Sender(ExecutorCore):
    """Sends actions (`submit`) and re-prices the ones that do not land (`_replace`)."""

    # ------------------------------------------------------------ deciding to send

    def _simulate_for_send(self, action: Action, head_block: int) -> tuple[Call | None, Outcome | None]:
        """(call, None) to go ahead; (None, outcome) to stop here and report why."""
        name = action.kind.value
        key = (action.market_id, name)
        call, sim = self.prepare_and_simulate(action)
        if action.kind == Kind.POKE and sim.error is None:
            return self._poke_verdict(action, call, sim)
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
            if action.kind == Kind.POKE:
                return self._poke_verdict(action, call, sim)
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

    def _poke_verdict(
        self, action: Action, call: Call | None, sim: Simulation
    ) -> tuple[Call | None, Outcome | None]:
        """A poke goes out only when its simulation returns True. No pending transaction of anyone's does
        a poke's job for it, so a revert is not waited on: on a Uniswap V2 pair it means the pair trades in
        the pending block, and a poke landing after that trade would revert. Both are tried again later."""
        if sim.revert is not None:
            self.metrics.sim_reverts.labels(action.kind.value).inc()
            log.info(
                "poke would revert, not sending", extra={"action": action.describe(), "revert": sim.revert}
            )
            return None, Outcome("reverted", sim.revert)
        if not sim.returned_true:  # False, or no answer this keeper understands
            log.debug("poke would record nothing, not sending", extra={"action": action.describe()})
            return None, Outcome("not-due", "poke would record nothing")
        return call, None

    def _poke_fees(self, fees: Fees) -> Fees | None:
        """A poke's fees under `poke_max_fee_gwei`; None when the next block costs more than that."""
        if self.fees.poke_max_fee_gwei is None:
            return fees
        cap = int(self.fees.poke_max_fee_gwei * GWEI)
        if fees.base_fee + fees.priority > cap:
            return None
        return Fees(min(fees.max_fee, cap), fees.priority, fees.base_fee)

    # ------------------------------------------------------------ sending

    def submit(self, action: Action, head_block: int) -> Outcome:
        """Simulates and (unless dry run) sends `action`; at most one transaction per market in flight."""
        name = action.kind.value
        pending = self.journal.for_market(action.market_id)
        displaced = self._poke_to_displace(action, pending)
        if pending is not None and displaced is None:
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
        if action.kind == Kind.POKE:
            # estimated for what is due now; by the block it lands in a depth sample may be due too (an
            # unused limit is not paid)
            gas = max(gas, DEFAULT_GAS[Kind.POKE])
            capped = self._poke_fees(fees)
            if capped is None:
                log.info(
                    "poke not sent: the next block costs more than poke_max_fee_gwei",
                    extra={
                        "action": call.label,
                        "fees": fees.describe(),
                        "base_fee_gwei": fees.base_fee / GWEI,
                    },
                )
                return Outcome("too-expensive", fees.describe())
            fees = capped
        if displaced is not None:
            return self._take_nonce(displaced, action, call, gas, fees, head_block)
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

    def _poke_to_displace(self, action: Action, pending: InFlight | None) -> InFlight | None:
        """The keeper's oldest poke still in flight, which any other action takes the nonce of: a poke is
        priced low and never re-priced, and a trip, resume or settlement queued behind it (same market, or
        any other: one nonce sequence) would wait for it. None for a poke, or when the market has something
        other than a poke in flight."""
        if action.kind == Kind.POKE or (pending is not None and pending.kind != Kind.POKE.value):
            return None
        pokes = [r for r in self.journal.items.values() if r.kind == Kind.POKE.value]
        return min(pokes, key=lambda r: r.nonce, default=None)

    def _take_nonce(
        self, rec: InFlight, action: Action, call: Call, gas: int, fees: Fees, head_block: int
    ) -> Outcome:
        """Re-signs the in-flight poke `rec`'s nonce as `action`, priced to replace it (both fees at least
        +bump_percent, or the urgent suggestion if higher): one transaction instead of a trip queued behind
        a poke. If the poke is mined first after all, the tick reports it as the poke (`InFlight.earlier`)
        and the policy decides the action again next block."""
        name = action.kind.value
        new = bumped(rec.fees, fees, self.fees.bump_percent, self.cap_wei)
        if new is None:
            log.error(
                "cannot take over the pending poke's nonce: fee cap reached",
                extra={"action": call.label, "nonce": rec.nonce, "hint": "raise fees.max_fee_gwei"},
            )
            return Outcome("in-flight", f"poke nonce {rec.nonce} not mined yet", rec.hashes[-1])
        tx = {"to": call.to, "data": call.data, "value": 0, "gas": gas}
        try:
            tx_hash, raw = self._signed(tx, rec.nonce, new)
        except SignerError as exc:
            self.metrics.sends.labels(name, "signer_error").inc()
            log.error("signer failed: nothing sent", extra={"action": action.describe(), "error": str(exc)})
            return Outcome("failed", str(exc))
        previous = InFlight(**{**asdict(rec), "hashes": list(rec.hashes), "earlier": dict(rec.earlier)})
        poke = [rec.market_id, rec.kind, list(rec.args), rec.to]
        rec.earlier.update({h: poke for h in rec.hashes if h not in rec.earlier})
        rec.market_id, rec.kind, rec.args, rec.to, rec.gas = (
            action.market_id,
            name,
            list(call.args),
            call.to,
            gas,
        )
        rec.hashes.append(tx_hash)
        rec.raw, rec.max_fee, rec.priority, rec.cancel = raw, new.max_fee, new.priority, False
        rec.first_block = rec.sent_block = head_block
        self.journal.put(rec)  # both hashes known before the broadcast, whichever lands
        try:
            rec.via_relay = self._broadcast(raw)
        except Web3RPCError as exc:
            self.journal.put(previous)  # the node answered: the poke still holds the nonce (or was mined)
            m = _msg(exc)
            if not ("nonce too low" in m or "already used" in m or "underpriced" in m):
                self.metrics.sends.labels(name, "rejected").inc()
            log.warning(
                "could not take over the pending poke's nonce",
                extra={"action": call.label, "nonce": rec.nonce, "error": str(exc)},
            )
            return Outcome("in-flight", f"poke nonce {rec.nonce}: {exc}", previous.hashes[-1])
        except Exception as exc:
            if not (is_transport_error(exc) or isinstance(exc, RpcUnavailable)):
                raise
            self.metrics.sends.labels(name, "unconfirmed").inc()
            log.error(
                "send failed on every endpoint; journaled, re-broadcast next cycle",
                extra={"action": action.describe(), "nonce": rec.nonce, "tx": tx_hash, "error": str(exc)},
            )
            return Outcome("failed", str(exc), tx_hash)
        rec.replacements += 1
        self.journal.put(rec)
        self._sent(name)
        log.info(
            "transaction sent in place of a pending poke",
            extra={
                "action": call.label,
                "reason": action.reason,
                "nonce": rec.nonce,
                "tx": tx_hash,
                "fees": new.describe(),
                "poke_market": poke[0],
            },
        )
        return Outcome("sent", call.label, tx_hash)

    def idle(self, market_id: int) -> None:
        """The policy wants nothing for this market now: a later action starts its deferral afresh."""
        self._due_since.pop(market_id, None)

    def _sent(self, name: str) -> None:
        self.metrics.tx_sent.labels(name).inc()
        self.metrics.sends.labels(name, "sent").inc()
        self.metrics.in_flight.set(len(self.journal.items))
        self.last_sent_at = self.clock()
        self.metrics.last_send.set(self.last_sent_at)

    def _replace(self, rec: InFlight, head_block: int) -> None:
        if rec.kind == Kind.POKE.value:
            # Never re-priced: a poke stays under `poke_max_fee_gwei` and leaves its nonce's replacement
            # room to the action that takes it over (`_poke_to_displace`); it lands when a block is cheap.
            rec.sent_block = head_block
            self.journal.put(rec)
            log.debug("stuck poke left at its price", extra={"nonce": rec.nonce, "market": rec.market_id})
            return
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
