"""New heads by WebSocket subscription (`eth_subscribe("newHeads")`) where the endpoint offers one.

`HeadWatcher` runs its own asyncio loop on a daemon thread and sets an event on every new head; the keeper's
loop waits on that event instead of sleeping `poll_interval_s`, so a block is acted on as soon as the node
announces it. A subscription that fails or drops is retried with back-off; meanwhile (and without `ws_url`)
the loop polls `eth_blockNumber` as before. Reads and sends still go through the HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from keeper.config import redact_url

log = logging.getLogger("keeper.heads")


class HeadWatcher:
    def __init__(self, url: str, max_backoff_s: float = 30.0) -> None:
        self.url = url
        self.label = redact_url(url)
        self.max_backoff_s = max_backoff_s
        self.head: int | None = None
        self.connected = threading.Event()
        self._new_head = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keeper-heads", daemon=True)

    def start(self) -> HeadWatcher:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """True when a new head arrived within `timeout` (the event is then cleared)."""
        got = self._new_head.wait(timeout)
        self._new_head.clear()
        return got

    def stop(self) -> None:
        self._stop.set()
        self._new_head.set()
        self._thread.join(5)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                asyncio.run(self._subscribe())
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - any failure: poll meanwhile, retry later
                if self.connected.is_set():
                    log.warning(
                        "new-heads subscription dropped; polling until it is back",
                        extra={"ws": self.label, "error": type(exc).__name__},
                    )
                else:
                    log.info(
                        "no new-heads subscription; polling",
                        extra={"ws": self.label, "error": type(exc).__name__},
                    )
            self.connected.clear()
            if self._stop.wait(backoff):
                return
            backoff = min(self.max_backoff_s, backoff * 2)

    async def _subscribe(self) -> None:
        from web3 import AsyncWeb3, WebSocketProvider

        async with AsyncWeb3(WebSocketProvider(self.url)) as w3:
            await w3.eth.subscribe("newHeads")
            self.connected.set()
            log.info("new heads by subscription", extra={"ws": self.label})
            async for message in w3.socket.process_subscriptions():
                if self._stop.is_set():
                    return
                result = message.get("result") if isinstance(message, dict) else None
                number = result.get("number") if isinstance(result, dict) else None
                if number is not None:
                    self.head = int(number, 16) if isinstance(number, str) else int(number)
                self._new_head.set()
