"""One kept-alive HTTP connection to a local node, as web3's HTTPProvider transport.

A replay sends thousands of requests to its own anvil, and `requests` spends about 0.5 ms of Python
on each (session, adapters, header parsing): more than the node takes to answer most of them.
`http.client` on one persistent connection costs about a quarter of that. Meant for a node on this
machine only: no proxies, no TLS, one connection, one thread.
"""

from __future__ import annotations

import http.client
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

P = TypeVar("P", bound=HTTPProvider)

# A kept-alive connection the node has closed fails on the next request before the node reads it.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


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

    def make_post_request(self, endpoint_uri: str, data: bytes | str, **kwargs: Any) -> bytes:
        body = data.encode() if isinstance(data, str) else data
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = self._conn.getresponse()
                payload = response.read()
            except _STALE:
                self.close()
                if reused and attempt == 1:
                    continue  # the node dropped an idle connection: this request never reached it
                raise
            except BaseException:
                self.close()  # a half-read answer would be the next request's
                raise
            if response.status != 200:
                raise requests.HTTPError(f"{response.status} {response.reason} from {endpoint_uri}")
            return payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def keep_alive(provider: P) -> P:
    """`provider` (an HTTPProvider for a node on this machine), now talking over a LoopbackPoster."""
    timeout = float(dict(provider.get_request_kwargs()).get("timeout", 10))
    # web3 has no public seam for its HTTP transport; its session manager is the narrowest one.
    provider._request_session_manager = LoopbackPoster(  # type: ignore[assignment]  # duck-typed
        str(provider.endpoint_uri), timeout
    )
    return provider
