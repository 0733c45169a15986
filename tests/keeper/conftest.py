"""Keeper tests: each chain test gets its own anvil on a free loopback port (no network, no ape provider),
so automine, block gas limit and base fee can be changed without touching other tests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from web3 import Web3
from web3.exceptions import TimeExhausted

from devchain import Anvil, DevSystem, deploy_system, dev_key
from keeper.config import KeeperSettings, load_account, load_settings
from keeper.metrics import Metrics
from keeper.runner import CycleReport, Keeper
from keeper.sources import CcxtSource, RecordedExchange

FIXTURES = Path(__file__).parent / "fixtures"
GWEI = 10**9
AUTOMINE_WAIT_S = 10.0  # far above anvil's usual few milliseconds, on a machine running the whole suite


@pytest.fixture
def anvil():
    with Anvil(accounts=12) as node:
        yield node


@pytest.fixture
def system(anvil) -> DevSystem:
    """Breaker with one mock market; account 1 is the keeper (KEEPER_ROLE), account 2 a second keeper."""
    return deploy_system(anvil.w3, markets=1, keepers=2)


@pytest.fixture
def make_settings(tmp_path):
    def make_settings(
        system: DevSystem, url: str | list[str], key_index: int = 1, **overrides: Any
    ) -> KeeperSettings:
        urls = url if isinstance(url, list) else [url]
        values: dict[str, Any] = {
            "breaker": system.breaker.address,
            "rpc_urls": urls,
            "markets": [{"id": m.market_id, "name": f"m{m.market_id}"} for m in system.markets],
            "private_key": dev_key(key_index),
            "metrics_port": 0,
            "state_dir": str(tmp_path / f"state{key_index}"),
            "rpc_timeout_s": 2.0,
            # exchanges answer from recordings: wait for them (tests of the deadline set their own)
            "offchain_deadline_s": 30.0,
        }
        values.update(overrides)
        # Pokes (one a block on a venue like the mock's) are tested in test_pokes.py; elsewhere they would
        # blur the transactions a test counts, so a market that does not say otherwise has none.
        values["markets"] = [{"poke": "never", **m} for m in values["markets"]]
        if values.get("private_key") is None:
            values.pop("private_key")
        return load_settings(None, **values)

    return make_settings


@pytest.fixture
def make_keeper(make_settings):
    keepers: list[Keeper] = []

    def make_keeper(
        system: DevSystem, url: str | list[str], key_index: int = 1, sources: Any = None, **overrides: Any
    ) -> Keeper:
        settings = make_settings(system, url, key_index, **overrides)
        keeper = Keeper(settings, account=load_account(settings), sources=sources or [], metrics=Metrics())
        keeper.cycle = _waiting_for_automine(keeper.cycle, system.w3)
        keepers.append(keeper)
        return keeper

    yield make_keeper
    for keeper in keepers:  # each holds its key's lock in its state_dir
        keeper.close()


def _waiting_for_automine(cycle: Callable[[], CycleReport], w3: Web3) -> Callable[[], CycleReport]:
    """Anvil's automine mines a sent transaction on its own task, after eth_sendRawTransaction has
    answered: on a loaded machine the next cycle could read the head before the block exists. Tests that
    cycle the keeper back to back mean "one cycle after the transaction landed", so each cycle that sent
    something waits (bounded) for its receipt when automine is on."""

    def cycle_then_wait() -> CycleReport:
        report = cycle()
        sent = [m.outcome.tx_hash for m in report.markets if m.outcome and m.outcome.status == "sent"]
        if sent and w3.provider.make_request("anvil_getAutomine", [])["result"]:
            for tx_hash in sent:
                with contextlib.suppress(TimeExhausted):  # the test itself then says what did not land
                    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=AUTOMINE_WAIT_S, poll_latency=0.02)
        return report

    return cycle_then_wait


def recorded(name: str, restamp: Any = None) -> RecordedExchange:
    return RecordedExchange(FIXTURES / f"{name}.json", restamp=restamp)


def cex_source(markets: Any, exchanges: dict[str, RecordedExchange]) -> CcxtSource:
    return CcxtSource(markets, exchanges=exchanges)


class LoopbackServer:
    """An HTTP server on a free loopback port, served from a daemon thread: the base of the tests' RPC
    proxies, remote signer and webhook. `url` is its root; `close()` stops it (once)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.alive = True

    def close(self) -> None:
        if self.alive:
            self.server.shutdown()
            self.server.server_close()
            self.alive = False


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON."""

    def log_message(self, *args: Any) -> None:
        return

    def reply(self, code: int, content: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


def with_batch_errors(content: bytes, reqs: list[dict[str, Any]], verdicts: list[Any]) -> bytes:
    """A batch's answers (`content`), with each request whose verdict is a dict answered by that JSON-RPC
    error instead: one item of a batch failing while the others pass."""
    answers = {a["id"]: a for a in json.loads(content)}
    return json.dumps(
        [
            {"jsonrpc": "2.0", "id": r["id"], "error": v} if isinstance(v, dict) else answers[r["id"]]
            for r, v in zip(reqs, verdicts, strict=True)
        ]
    ).encode()


@pytest.fixture
def closing():
    """`closing(server)`: the server, closed when the test ends."""
    opened: list[LoopbackServer] = []

    def register(server: Any) -> Any:
        opened.append(server)
        return server

    yield register
    for server in opened:
        server.close()


class RpcProxy(LoopbackServer):
    """A loopback JSON-RPC forwarder in front of anvil that a test can kill or inspect.

    `methods` records every JSON-RPC method it forwarded (batches flattened).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.methods: list[str] = []
        self.session = requests.Session()
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(body)
                for r in req if isinstance(req, list) else [req]:
                    proxy.methods.append(r.get("method"))
                resp = proxy.session.post(
                    proxy.target, data=body, headers={"Content-Type": "application/json"}, timeout=10
                )
                self.reply(resp.status_code, resp.content)

        super().__init__(Handler)

    def kill(self) -> None:
        self.close()


@pytest.fixture
def rpc_proxy(closing):
    return lambda target: closing(RpcProxy(target))


def tripped_events(system: DevSystem) -> list[Any]:
    return list(system.breaker.events.MarketTripped().get_logs(from_block=0))


def nonce_of(system: DevSystem, address: str, block: str = "latest") -> int:
    return system.w3.eth.get_transaction_count(address, block)


@pytest.fixture(autouse=True)
def _restore_keeper_logger():
    """`python -m keeper` (cli.main) installs a JSON handler on the `keeper` logger: undo it per test."""
    import logging

    logger = logging.getLogger("keeper")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
