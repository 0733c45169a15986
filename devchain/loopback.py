"""One kept-alive HTTP connection to a local node, as web3's HTTPProvider transport.

A replay sends thousands of requests to its own anvil, and `requests` spends about 0.5 ms of Python
on each (session, adapters, header parsing): more than the node takes to answer most of them.
`http.client` on one persistent connection costs about a quarter of that. Meant for a node on this
machine only: no proxies, no TLS, one connection, one thread.

A request is sent at most once. Before reusing the connection it is checked as urllib3 does: a kept-alive
socket that has become readable while idle was closed by the node (or holds garbage), so a new one is
opened. A request that fails after that (sending or reading) is not sent again: the node may have acted
on it. Failures surface as ConnectionError (the keeper's transport errors); web3's own retries are off.
"""

from __future__ import annotations

import http.client
import select
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

P = TypeVar("P", bound=HTTPProvider)


class LoopbackPoster:
    """HTTPProvider's session manager as far as it is used (`make_post_request`), on one connection."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not a plain http:// node URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            self.close()
            conn = None
        if conn is None:
            conn = self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return conn

    def make_post_request(self, endpoint_uri: str, data: bytes | str, **kwargs: Any) -> bytes:
        body = data.encode() if isinstance(data, str) else data
        conn = self._connection()
        try:
            conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
        except http.client.HTTPException as exc:
            self.close()  # a half-read answer would be the next request's
            if isinstance(exc, OSError):
                raise
            raise ConnectionError(f"{type(exc).__name__} from {endpoint_uri}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        if response.status != 200:
            raise requests.HTTPError(f"{response.status} {response.reason} from {endpoint_uri}")
        return payload

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _dropped(sock: Any) -> bool:
    """An idle kept-alive socket with something to read: the node's close (EOF) or bytes nobody asked for."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def keep_alive(provider: P) -> P:
    """`provider` (an HTTPProvider for a node on this machine), now talking over a LoopbackPoster, without
    web3's retries (a request the node may have acted on is not sent twice)."""
    timeout: Any = dict(provider.get_request_kwargs()).get("timeout", 10)
    if isinstance(timeout, tuple):  # requests' (connect, read)
        timeout = max(timeout)
    provider.exception_retry_configuration = None  # type: ignore[assignment]  # as the constructor takes it
    # web3 has no public seam for its HTTP transport; its session manager is the narrowest one.
    provider._request_session_manager = LoopbackPoster(  # type: ignore[assignment]  # duck-typed
        str(provider.endpoint_uri), float(timeout)
    )
    return provider
