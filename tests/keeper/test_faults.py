"""Fault injection: what the keeper does when the world around it misbehaves.

Each test injects one fault between the keeper and a real anvil chain (a JSON-RPC proxy that
hangs, answers garbage or errors, or loses a response; a chain reorganisation; an exchange or a
scenario serving bad data; an empty gas account; a corrupted journal) and checks the expected
behaviour: the keeper keeps running, never sends a transaction twice, never acts on data it could
not read, and lands the trip once the fault is gone. The faults covered elsewhere (an RPC that
dies, every RPC down, nonce too low, a nonce gap, "already known", "replacement transaction
underpriced" at the first send, a dropped transaction, restarts mid-halt) are listed with these in
docs/threat-model.md.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from devchain import Crowd
from keeper.model import Kind, State
from keeper.sources import CcxtSource, ReplaySource
from tests.keeper.conftest import (
    LoopbackServer,
    QuietHandler,
    nonce_of,
    recorded,
    tripped_events,
    with_batch_errors,
)

TIMEOUT_S = 2.0  # rpc_timeout_s of make_settings

# A verdict for one JSON-RPC request: None forwards it; "hang" never answers; "503" answers HTTP 503;
# "garbage" answers 200 with a body that is not JSON; "lose-answer" forwards it and then never
# answers (the node acted, the keeper never hears); {"raw": ANSWER} is answered as that whole JSON-RPC
# answer (id added; a malformed one too); any other dict is answered as that JSON-RPC error.
Verdict = str | dict[str, Any] | None


class FaultProxy(LoopbackServer):
    """A loopback JSON-RPC forwarder in front of anvil whose `fault(method, params, in_batch)` picks a
    verdict per request. `methods` records every method it saw (batches flattened)."""

    def __init__(self, target: str) -> None:
        self.fault: Callable[[str, Any, bool], Verdict] = lambda method, params, in_batch: None
        self.methods: list[str] = []
        self.hung = 0
        self._closing = threading.Event()
        http = requests.Session()
        proxy = self

        class Handler(QuietHandler):
            def _hang(self) -> None:
                proxy.hung += 1
                proxy._closing.wait(60)
                self.close_connection = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(body)
                reqs = req if isinstance(req, list) else [req]
                verdicts = [
                    proxy.fault(r.get("method"), r.get("params"), isinstance(req, list)) for r in reqs
                ]
                proxy.methods += [r.get("method") for r in reqs]
                word = next((v for v in verdicts if isinstance(v, str)), None)
                if word == "hang":
                    return self._hang()
                if word == "503":
                    return self.reply(503, b"")
                if word == "garbage":
                    return self.reply(200, b"<html><body>502 Bad Gateway</body></html>")
                content = http.post(
                    target, data=body, headers={"Content-Type": "application/json"}, timeout=30
                ).content
                if word == "lose-answer":
                    return self._hang()
                raw = next((v["raw"] for v in verdicts if isinstance(v, dict) and "raw" in v), None)
                if raw is not None and not isinstance(req, list):
                    content = json.dumps({"jsonrpc": "2.0", "id": req.get("id")} | raw).encode()
                elif any(isinstance(v, dict) for v in verdicts):
                    if isinstance(req, list):
                        content = with_batch_errors(content, reqs, verdicts)
                    else:
                        content = json.dumps(
                            {"jsonrpc": "2.0", "id": req.get("id"), "error": verdicts[0]}
                        ).encode()
                self.reply(200, content)

        super().__init__(Handler)

    def heal(self) -> None:
        self.fault = lambda method, params, in_batch: None

    def close(self) -> None:
        self._closing.set()
        super().close()


@pytest.fixture
def fault_proxy(closing):
    return lambda target: closing(FaultProxy(target))


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


def armed_events(system) -> list[Any]:
    return list(system.breaker.events.TripArmed().get_logs(from_block=0))


def run_in_thread(keeper) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    runner.start()
    return runner, stop


def wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ---------------------------------------------------------------- RPC timeouts


@pytest.mark.fault
def test_rpc_timeout__hanging_primary_fails_over_within_the_timeout(anvil, system, make_keeper, fault_proxy):
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    system.crash(0)
    primary.fault = lambda method, params, in_batch: "hang"  # accepts the connection, never answers

    started = time.monotonic()
    report = keeper.cycle()
    took = time.monotonic() - started
    assert primary.hung >= 1
    assert report.markets[0].action.kind == Kind.ARM_TRIP and report.markets[0].outcome.status == "sent"
    assert TIMEOUT_S <= took < TIMEOUT_S + 6  # one timeout on the primary, then the secondary answers
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1
    assert wait_for(lambda: (keeper.cycle(), state_of(system))[1] == State.HALTED, 30)
    assert len(tripped_events(system)) == 1 and nonce_of(system, system.keepers[0]) == 2


@pytest.mark.fault
def test_rpc_timeout__only_endpoint_hangs_cycles_fail_then_the_keeper_recovers(
    anvil, system, make_keeper, fault_proxy
):
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url], poll_interval_s=0.05, idle_cycle_s=0.2)
    proxy.fault = lambda method, params, in_batch: "hang"
    system.crash(0)
    runner, stop = run_in_thread(keeper)
    try:
        assert wait_for(lambda: keeper.metrics.value("keeper_cycle_errors_total") >= 2, 30)
        assert runner.is_alive() and nonce_of(system, system.keepers[0]) == 0  # nothing sent blind
        ok, info = keeper.health()
        assert not ok and info["last_cycle_age_s"] is None
        proxy.heal()
        assert wait_for(lambda: state_of(system) == State.HALTED, 60)
    finally:
        stop.set()
        runner.join(3 * TIMEOUT_S + 35)
    assert not runner.is_alive()  # stops cleanly after the fault
    assert keeper.health()[0]
    assert len(tripped_events(system)) == 1 and nonce_of(system, system.keepers[0]) == 2


# ---------------------------------------------------------------- RPC errors and garbage


@pytest.mark.fault
def test_rpc_garbage__non_json_answer_fails_over(anvil, system, make_keeper, fault_proxy):
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    primary.fault = lambda method, params, in_batch: "garbage"  # a proxy's HTML error page with status 200
    system.crash(0)
    kinds = [keeper.cycle().markets[0].action.kind for _ in range(2)]
    assert kinds == [Kind.ARM_TRIP, Kind.TRIP] and state_of(system) == State.HALTED
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1


@pytest.mark.fault
def test_rpc_error__rate_limited_answer_fails_over(anvil, system, make_keeper, fault_proxy):
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    primary.fault = lambda method, params, in_batch: {"code": -32005, "message": "rate limit exceeded"}
    system.crash(0)
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED and keeper.pool.current.name == "rpc1"
    assert len(tripped_events(system)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "rate limited"},  # an error that is not a JSON-RPC error object
        {"error": {"message": "busy"}},  # an error object without a code
        {},  # neither result nor error
    ],
    ids=["string-error", "error-without-code", "no-result"],
)
@pytest.mark.fault
def test_rpc_malformed__head_read_answered_out_of_spec_fails_over(
    anvil, system, make_keeper, fault_proxy, answer
):
    """The keeper reads the head block raw (keeper.chain.rpc_result): an answer that is not JSON-RPC is
    the endpoint failing, as web3 would have it, not a node error on the request."""
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    primary.fault = lambda method, params, in_batch: (
        {"raw": answer} if method == "eth_getBlockByNumber" and not in_batch else None
    )
    system.crash(0)
    kinds = [keeper.cycle().markets[0].action.kind for _ in range(2)]
    assert kinds == [Kind.ARM_TRIP, Kind.TRIP] and state_of(system) == State.HALTED
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1


@pytest.mark.fault
def test_rpc_error__node_error_on_a_read_fails_the_cycle_not_the_keeper(
    anvil, system, make_keeper, fault_proxy
):
    """A JSON-RPC error that is not "busy" (a node without the block) fails the cycle: the keeper acts on
    nothing it could not read consistently, keeps running, and trips once the node answers again."""
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url], poll_interval_s=0.05, idle_cycle_s=0.2)
    proxy.fault = lambda method, params, in_batch: (
        {"code": -32000, "message": "header not found"} if method == "eth_getBlockByNumber" else None
    )
    system.crash(0)
    runner, stop = run_in_thread(keeper)
    try:
        assert wait_for(lambda: keeper.metrics.value("keeper_cycle_errors_total") >= 2, 30)
        assert runner.is_alive() and nonce_of(system, system.keepers[0]) == 0
        proxy.heal()
        assert wait_for(lambda: state_of(system) == State.HALTED, 60)
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive() and len(tripped_events(system)) == 1


@pytest.mark.parametrize("message", ["header not found", "missing trie node"])
@pytest.mark.fault
def test_rpc_error__node_behind_the_head_fails_over(anvil, system, make_keeper, fault_proxy, message):
    """A node that lacks the block or state asked for (behind the head, pruned) is skipped for a healthy one:
    no cycle fails and the trip lands as if the primary were down."""
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    primary.fault = lambda method, params, in_batch: (
        {"code": -32000, "message": message} if method in ("eth_getBlockByNumber", "eth_call") else None
    )
    system.crash(0)
    kinds = [keeper.cycle().markets[0].action.kind for _ in range(2)]
    assert kinds == [Kind.ARM_TRIP, Kind.TRIP] and state_of(system) == State.HALTED
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1


@pytest.mark.fault
def test_rpc_error__rate_limited_batch_items_fail_over(anvil, system, make_keeper, fault_proxy):
    primary = fault_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url])
    primary.fault = lambda method, params, in_batch: (
        {"code": -32005, "message": "rate limit exceeded"} if in_batch and method == "eth_call" else None
    )
    system.crash(0)
    failed = 0
    for _ in range(3):
        try:
            keeper.cycle()
        except Exception:  # noqa: BLE001 - the loop counts a failed cycle and tries again
            failed += 1
    assert state_of(system) == State.HALTED, f"{failed} of 3 cycles failed"
    assert failed == 0 and keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1


@pytest.mark.fault
def test_rpc_lost_answer__transaction_the_node_took_is_not_sent_twice(
    anvil, system, make_keeper, fault_proxy
):
    """The node accepts the raw transaction but its answer never arrives (timeout): the keeper reports a
    failed send, and the next cycles neither duplicate it nor leave a nonce gap."""
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url])
    system.crash(0)
    anvil.set_automine(False)
    proxy.fault = lambda method, params, in_batch: (
        "lose-answer" if method == "eth_sendRawTransaction" else None
    )
    first = keeper.cycle().markets[0].outcome
    assert first.status == "failed" and "eth_sendRawTransaction" in first.detail
    assert anvil.rpc("txpool_status")["pending"] == "0x1"  # the arm is in the pool all the same
    proxy.heal()
    for _ in range(4):
        anvil.mine()
        keeper.cycle()
    assert state_of(system) == State.HALTED
    assert len(armed_events(system)) == 1 and len(tripped_events(system)) == 1
    assert nonce_of(system, system.keepers[0]) == 2 and not keeper.executor.journal.items


# ---------------------------------------------------------------- reorgs


@pytest.mark.fault
def test_reorg__mined_trip_reorged_out_is_rebroadcast_from_the_journal(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    system.crash(0)
    keeper.cycle()  # the arm lands (automine)
    keeper.executor.tick(anvil.w3.eth.block_number)
    anvil.set_automine(False)
    assert keeper.cycle().markets[0].outcome.status == "sent"
    anvil.mine()
    assert state_of(system) == State.HALTED
    anvil.rpc("anvil_reorg", [1, []])  # the block with the trip is replaced by an empty one
    assert state_of(system) == State.NORMAL and anvil.rpc("txpool_status")["pending"] == "0x0"

    report = keeper.cycle()  # the journal still holds the trip: the node forgot it, so it is re-broadcast
    assert report.markets[0].outcome.status == "in-flight"
    assert anvil.rpc("txpool_status")["pending"] == "0x1"
    anvil.mine()
    keeper.cycle()
    assert state_of(system) == State.HALTED and not keeper.executor.journal.items
    assert len(tripped_events(system)) == 1 and nonce_of(system, system.keepers[0]) == 2


@pytest.mark.fault
def test_reorg__landed_trip_reorged_out_is_sent_again_with_the_right_nonce(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    system.crash(0)
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED and not keeper.executor.journal.items  # landed and settled
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "trip", "status": "success"}) == 1
    )
    anvil.rpc("anvil_reorg", [1, []])  # after the keeper saw it land
    assert state_of(system) == State.NORMAL and nonce_of(system, system.keepers[0]) == 1

    report = keeper.cycle()  # the arm survived the reorg: confirm again, reusing nonce 1 (no gap)
    assert report.markets[0].action.kind == Kind.TRIP and report.markets[0].outcome.status == "sent"
    keeper.cycle()
    assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
    assert nonce_of(system, system.keepers[0]) == 2 and anvil.rpc("txpool_status")["queued"] == "0x0"


# ---------------------------------------------------------------- replacement, funds, journal


@pytest.mark.fault
def test_replacement_underpriced__asks_more_and_the_replacement_lands(
    anvil, system, make_keeper, fault_proxy
):
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url], fees={"replace_after_blocks": 1, "bump_percent": 12})
    system.crash(0)
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    crowd = Crowd(anvil, tip_median_gwei=5)
    assert keeper.cycle().markets[0].outcome.status == "sent"  # the arm, priced from a calm fee history
    sent = keeper.executor.journal.items[0]
    first_hashes, first_fee = list(sent.hashes), sent.max_fee
    crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
    anvil.mine()  # a full block of better-paying users: the arm waits
    assert anvil.w3.eth.get_transaction(first_hashes[0]).blockNumber is None

    proxy.fault = lambda method, params, in_batch: (
        {"code": -32000, "message": "replacement transaction underpriced"}
        if method == "eth_sendRawTransaction"
        else None
    )
    keeper.cycle()  # the replacement is refused: the keeper remembers the higher ask, nothing breaks
    rec = keeper.executor.journal.items[0]
    assert rec.replacements == 0 and rec.hashes == first_hashes and rec.max_fee > first_fee
    asked = (rec.max_fee, rec.priority)

    proxy.heal()
    keeper.cycle()  # bumps again from the higher ask
    rec = keeper.executor.journal.items[0]
    assert rec.replacements == 1 and len(rec.hashes) == 2
    assert rec.max_fee * 100 >= asked[0] * 112 and rec.priority * 100 >= asked[1] * 112
    for _ in range(4):
        anvil.mine()
        keeper.cycle()
    assert len(armed_events(system)) == 1
    assert anvil.w3.eth.get_transaction_receipt(rec.hashes[-1]).status == 1


@pytest.mark.fault
def test_insufficient_funds__reported_then_trips_once_funded(anvil, system, make_keeper, caplog):
    keeper = make_keeper(system, anvil.url)
    me = system.keepers[0]
    anvil.rpc("anvil_setBalance", [me, "0x0"])
    system.crash(0)
    with caplog.at_level(logging.ERROR, logger="keeper.executor"):
        outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "failed" and outcome.detail == "insufficient funds"
    assert "keeper account cannot pay for gas: fund it" in caplog.text
    assert nonce_of(system, me) == 0 and armed_events(system) == []
    anvil.rpc("anvil_setBalance", [me, hex(10**18)])
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED and nonce_of(system, me) == 2


@pytest.mark.fault
def test_journal_corrupted__restart_starts_empty_and_sends_no_duplicate(anvil, system, make_keeper, caplog):
    keeper = make_keeper(system, anvil.url)
    system.crash(0)
    keeper.cycle()
    keeper.executor.tick(anvil.w3.eth.block_number)
    anvil.set_automine(False)
    assert keeper.cycle().markets[0].outcome.status == "sent"  # trip pending
    journal = keeper.executor.journal.path
    journal.write_text('[{"nonce": 1, "kind": "tr')  # the disk filled up mid-write
    keeper.close()  # and the keeper died: the kernel drops a dead process's lock

    with caplog.at_level(logging.ERROR, logger="keeper.executor"):
        restarted = make_keeper(system, anvil.url)
    assert "journal unreadable, starting empty" in caplog.text and not restarted.executor.journal.items
    outcome = restarted.cycle().markets[0].outcome
    assert outcome.status == "reverted" and outcome.detail == "CircuitBreaker: market is halted"
    anvil.mine()
    restarted.cycle()
    assert len(tripped_events(system)) == 1 and nonce_of(system, system.keepers[0]) == 2


# ---------------------------------------------------------------- off-chain sources


class RaisingExchange:
    """An exchange client that fails with an error ccxt never raises (a bug in a client library)."""

    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        raise RuntimeError("client library bug")

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        raise RuntimeError("client library bug")

    def fetch_open_interest(self, symbol: str) -> dict[str, Any]:
        raise RuntimeError("client library bug")


THREE_VENUES = [
    {
        "id": 0,
        "name": "usde",
        "cex": [
            {"exchange": e, "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT", "calm_depth_usd": 4e6}
            for e in ("binance", "bybit", "okx")
        ],
    }
]


@pytest.mark.fault
def test_cex_client_raises__cycle_completes_and_rule_a_still_trips(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, markets=THREE_VENUES)
    keeper.sources = [
        CcxtSource(
            keeper.settings.markets,
            exchanges={
                "binance": recorded("binance_usde_calm", time.time),
                "bybit": recorded("bybit_usde_calm", time.time),
                "okx": RaisingExchange(),
            },
        )
    ]
    system.crash(0)
    kinds = [keeper.cycle().markets[0].action.kind for _ in range(2)]
    assert kinds == [Kind.ARM_TRIP, Kind.TRIP] and state_of(system) == State.HALTED
    assert keeper.metrics.value("keeper_source_errors_total", {"source": "cex"}) >= 1


def _malformed_okx() -> Any:
    okx = recorded("okx_usde_calm", time.time)
    okx.data["order_books"]["USDE/USDT"]["bids"] = [
        {"price": 0.9999, "amount": 5_000}
    ]  # objects, not [px, qty]
    return okx


@pytest.mark.parametrize("okx", ["calm", "malformed"])
@pytest.mark.fault
def test_cex_malformed_book__the_other_venues_still_count(anvil, system, make_keeper, okx):
    keeper = make_keeper(system, anvil.url, markets=THREE_VENUES)
    keeper.sources = [
        CcxtSource(
            keeper.settings.markets,
            exchanges={
                "binance": recorded("binance_usde_calm", time.time),
                "bybit": recorded("bybit_usde_calm", time.time),
                "okx": _malformed_okx() if okx == "malformed" else recorded("okx_usde_calm", time.time),
            },
            on_error=lambda name: keeper.metrics.source_errors.labels(name).inc(),
        )
    ]  # as the runner wires it
    report = keeper.cycle()
    ind = report.markets[0].keeper
    assert ind.index_price == pytest.approx(1.0, abs=0.01)  # from the venues that answered well
    assert ind.lce_bps is not None  # the other venues' books still make LCE
    errors = keeper.metrics.value("keeper_source_errors_total", {"source": "okx"})
    assert errors == (1 if okx == "malformed" else 0)  # the bad exchange is counted, and only it
    assert keeper.metrics.value("keeper_source_errors_total", {"source": "binance"}) == 0


@pytest.mark.fault
def test_replay_source_bad_points__rejected_without_crashing_the_cycle(anvil, system, make_keeper):
    """A scenario series that serves NaN, zero and negative prices at some t: those quotes are rejected
    and counted, the good venue still makes the index, and nothing is decided from them."""
    scenario = {
        "name": "bad-points",
        "duration_s": 600,
        "series": {
            "cex": [
                {"name": "good", "mid": {"constant": 1.0}, "depth_1pct_usd": {"constant": 5e6}},
                {"name": "nan", "mid": {"constant": float("nan")}, "depth_1pct_usd": {"constant": 5e6}},
                {
                    "name": "zero",
                    "mid": {"points": [[0, 1.0], [100, 0.0]]},
                    "depth_1pct_usd": {"constant": 5e6},
                },
                {
                    "name": "negative",
                    "mid": {"points": [[0, 1.0], [100, -1.0]]},
                    "depth_1pct_usd": {"constant": -5e6},
                },
            ]
        },
        "open_interest_usd": {"constant": -1e9},
    }
    source = ReplaySource(scenario, market_id=0)
    keeper = make_keeper(system, anvil.url, sources=[source])
    source.set_time(200)
    for _ in range(3):
        report = keeper.cycle()
        ind = report.markets[0].keeper
        assert report.markets[0].action is None
        assert ind.index_price == 1.0 and set(ind.rejected) >= {"nan", "zero", "negative"}
        assert ind.lce_bps is None or math.isfinite(ind.lce_bps)
    for name in ("nan", "zero", "negative"):
        assert keeper.metrics.value("keeper_data_rejected_total", {"market": "0", "source": name}) == 3
    assert nonce_of(system, system.keepers[0]) == 0
