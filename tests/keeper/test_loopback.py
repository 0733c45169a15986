"""devchain's kept-alive transport: what web3 gets from it when the node closes, fails or answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from web3 import Web3

from devchain import Anvil
from devchain.loopback import LoopbackPoster, keep_alive


class _Node(BaseHTTPRequestHandler):
    """Answers every JSON-RPC request with block number 0x7; answers 500 when `status` says so; with
    `close_after`, drops the connection after each answer without saying so (as a node dropping an idle
    kept-alive connection does); with `drop_unanswered`, reads a request and closes without an answer."""

    protocol_version = "HTTP/1.1"
    close_after = False
    drop_unanswered = False
    status = 200
    seen = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.drop_unanswered:  # acted on it, perhaps, then went away before answering
            self.close_connection = True
            return
        body = b'{"jsonrpc":"2.0","id":1,"result":"0x7"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.close_after

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[tuple[str, type[_Node]]]:
    handler = type("Node", (_Node,), {"seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_keep_alive__web3_reads_a_real_node_through_it():
    with Anvil() as anvil:
        assert isinstance(anvil.w3.provider._request_session_manager, LoopbackPoster)
        before = anvil.w3.eth.block_number
        anvil.mine(3)
        assert anvil.w3.eth.block_number == before + 3
        assert anvil.w3.eth.get_balance(anvil.w3.eth.accounts[0]) > 0


def test_loopback__a_connection_the_node_closed_while_idle_is_replaced_before_the_next_request(node):
    url, handler = node
    handler.close_after = True
    w3 = Web3(keep_alive(Web3.HTTPProvider(url)))
    numbers = []
    for _ in range(3):
        numbers.append(w3.eth.block_number)
        time.sleep(0.05)  # idle: the node's close reaches this side
    assert numbers == [7, 7, 7]
    assert handler.seen == 3  # each request sent once


def test_loopback__a_request_the_node_read_but_never_answered_is_not_sent_again(node):
    url, handler = node
    handler.drop_unanswered = True
    # web3's default provider retries a dropped connection; keep_alive switches that off
    w3 = Web3(keep_alive(Web3.HTTPProvider(url)))
    with pytest.raises(ConnectionError):
        w3.provider.make_request("evm_mine", [])
    assert handler.seen == 1


def test_loopback__an_http_error_raises_naming_the_status_and_the_node(node):
    url, handler = node
    handler.status = 500
    poster = LoopbackPoster(url, timeout=2)
    with pytest.raises(requests.HTTPError, match=f"500 .* from {url}"):
        poster.make_post_request(url, b"{}")


def test_loopback__a_node_that_is_not_there_raises_a_connection_error():
    with Anvil() as anvil:
        url = anvil.url
    with pytest.raises(ConnectionError):
        LoopbackPoster(url, timeout=2).make_post_request(url, b"{}")


@pytest.mark.parametrize("url", ["https://127.0.0.1:8545", "127.0.0.1:8545", "ws://127.0.0.1:8545"])
def test_loopback__a_url_that_is_not_plain_http_is_refused(url):
    with pytest.raises(ValueError, match="not a plain http:// node URL"):
        LoopbackPoster(url, timeout=2)
