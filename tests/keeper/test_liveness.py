"""Liveness: on-chain rules never wait on an exchange, a node whose head stops or falls behind is left, and
an endpoint serving another chain is never used."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence

import pytest
import requests

from devchain import Anvil
from keeper.model import Kind, State
from keeper.sources import Observations
from tests.keeper.conftest import LoopbackServer, QuietHandler, tripped_events


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


class HangingExchangeSource:
    """An off-chain source whose answer arrives only when the test lets it (an exchange timing out)."""

    name = "cex"
    background = True

    def __init__(self) -> None:
        self.release = threading.Event()
        self.answered = threading.Event()
        self.calls = 0

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        self.calls += 1
        self.release.wait(30)
        self.answered.set()
        return {mid: Observations() for mid in market_ids}


def test_rule_a__decides_while_the_exchange_has_not_answered(anvil, system, make_keeper):
    source = HangingExchangeSource()
    keeper = make_keeper(system, anvil.url, offchain_deadline_s=0.2, sources=[source])
    system.crash(0)
    try:
        first = keeper.cycle()
        assert not source.answered.is_set()  # the exchange is still out when the keeper decided
        assert first.markets[0].action.kind == Kind.ARM_TRIP and first.markets[0].outcome.status == "sent"
        keeper.cycle()
        assert not source.answered.is_set() and source.calls == 1  # a source still busy is not asked again
        assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
        assert keeper.metrics.value("keeper_sources_late_total") == 2
    finally:
        source.release.set()
    assert source.answered.wait(10)


class FrozenHeadProxy(LoopbackServer):
    """A JSON-RPC forwarder that pins `latest` to `frozen` once set: a node that answers but stopped
    following the chain."""

    def __init__(self, target: str) -> None:
        self.frozen: int | None = None
        self.methods: list[str] = []
        http = requests.Session()
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                reqs = req if isinstance(req, list) else [req]
                frozen = proxy.frozen
                answers = []
                for r in reqs:
                    proxy.methods.append(r["method"])
                    if frozen is not None and r["method"] == "eth_blockNumber":
                        answers.append({"jsonrpc": "2.0", "id": r["id"], "result": hex(frozen)})
                        continue
                    if frozen is not None and r.get("params") and "latest" in r["params"]:
                        r["params"] = [hex(frozen) if p == "latest" else p for p in r["params"]]
                    answers.append(http.post(target, json=r, timeout=30).json())
                self.reply(200, json.dumps(answers if isinstance(req, list) else answers[0]).encode())

        super().__init__(Handler)


@pytest.fixture
def frozen_proxy(closing):
    return lambda target: closing(FrozenHeadProxy(target))


def test_head_lagging__primary_left_for_the_endpoint_ahead(anvil, system, make_keeper, frozen_proxy):
    primary = frozen_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url], max_head_lag_blocks=3)
    keeper.cycle()
    assert keeper.pool.current.name == "rpc0"
    primary.frozen = anvil.w3.eth.block_number  # answers, but no longer follows the chain
    anvil.mine(5)
    system.crash(0)  # the crash is only visible past the frozen head
    for _ in range(3):
        keeper.cycle()
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_failovers_total", {"reason": "lagging"}) == 1
    assert state_of(system) == State.HALTED


def test_head_within_the_lag_bound__no_failover(anvil, system, make_keeper, frozen_proxy):
    primary = frozen_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url], max_head_lag_blocks=3)
    primary.frozen = anvil.w3.eth.block_number
    anvil.mine(3)
    keeper.cycle()
    assert keeper.pool.current.name == "rpc0" and keeper.metrics.value("keeper_head_lag_blocks") == 3


def test_head_stalled__left_once_another_endpoint_moves(anvil, system, make_keeper, frozen_proxy):
    primary = frozen_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url], max_head_lag_blocks=100, head_stall_s=0.01)
    keeper.cycle()
    primary.frozen = anvil.w3.eth.block_number
    keeper.cycle()  # both at the same head: a quiet chain is no stall
    assert keeper.pool.current.name == "rpc0"
    anvil.mine()
    keeper.cycle()
    keeper.cycle()
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_rpc_failovers_total", {"reason": "stalled"}) == 1


def test_chain_id__checked_per_endpoint_before_its_first_use(anvil, system, make_keeper, rpc_proxy):
    primary = rpc_proxy(anvil.url)
    with Anvil(extra=["--chain-id", "999"]) as other:
        wrong = rpc_proxy(other.url)
        keeper = make_keeper(system, [primary.url, wrong.url])
        keeper.cycle()
        primary.kill()
        system.crash(0)
        for _ in range(2):
            with pytest.raises(Exception, match="RPC endpoints failed"):
                keeper.cycle()
        assert set(wrong.methods) == {"eth_chainId"}  # never read, never sent to
        assert keeper.pool.endpoints[1].excluded == "serves chain 999, not 31337"
        assert keeper.metrics.value("keeper_rpc_failovers_total", {"reason": "wrong_chain"}) == 1


def test_new_heads__by_websocket_subscription_instead_of_polling(anvil, system, make_keeper, caplog):
    """With `ws_url`, a new block is acted on when the node announces it: polling alone would sleep 30 s."""
    ws = anvil.url.replace("http://", "ws://")
    keeper = make_keeper(system, anvil.url, ws_url=ws, poll_interval_s=30, idle_cycle_s=600)
    caplog.set_level(logging.INFO, logger="keeper.heads")
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while keeper.cycles < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher_up = time.monotonic() + 20
        while time.monotonic() < watcher_up and keeper.metrics.value("keeper_head_block") == 0:
            time.sleep(0.05)
        time.sleep(1.0)  # the subscription is set up on its own thread
        system.crash(0)  # two blocks (automine): announced, the keeper arms, then confirms
        deadline = time.monotonic() + 15
        while state_of(system) != State.HALTED and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    assert "new heads by subscription" in [r.getMessage() for r in caplog.records]
    assert state_of(system) == State.HALTED and keeper.cycles >= 3


def test_new_heads__ws_url_must_be_a_websocket(tmp_path):
    from keeper.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="ws_url: expected a ws:// or wss:// URL"):
        load_settings(
            None,
            breaker="0x" + "11" * 20,
            rpc_urls=["http://127.0.0.1:1"],
            markets=[{"id": 0, "name": "m"}],
            dry_run=True,
            ws_url="http://127.0.0.1:1",
        )
