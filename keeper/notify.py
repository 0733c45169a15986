"""Webhook notifications: trip sent, trip landed, keeper unhealthy (and healthy again).

One JSON POST per event, `{"event": ..., "keeper": address, "chain_id": ..., ...details}`, sent from a
worker thread so that a slow or dead webhook never delays a cycle. Failures are logged and counted
(`keeper_webhook_errors_total`), never retried: the alert rules in ops/ are the reliable path, the
webhook the fast one. The URL (it often carries a token) is never logged.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import requests

from keeper.metrics import Metrics

log = logging.getLogger("keeper.notify")
EVENTS = ("trip_sent", "trip_landed", "keeper_unhealthy", "keeper_healthy")


class Notifier:
    def __init__(
        self,
        url: str | None,
        metrics: Metrics,
        *,
        timeout_s: float = 5.0,
        common: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.common = dict(common or {})
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1_000)
        self._session = requests.Session()
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._worker, name="keeper-webhook", daemon=True)
            self._thread.start()

    def notify(self, event: str, **details: Any) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; known: {', '.join(EVENTS)}")
        if not self.url:
            return
        try:
            self._queue.put_nowait({"event": event, **self.common, **details})
        except queue.Full:
            self.metrics.webhook_errors.labels("queue_full").inc()

    def _worker(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                resp = self._session.post(self.url, json=payload, timeout=self.timeout_s)  # type: ignore[arg-type]
                if resp.status_code >= 300:
                    self.metrics.webhook_errors.labels("status").inc()
                    log.warning(
                        "webhook refused", extra={"event": payload["event"], "status": resp.status_code}
                    )
                else:
                    self.metrics.webhooks.labels(payload["event"]).inc()
            except requests.RequestException as exc:
                self.metrics.webhook_errors.labels("transport").inc()
                log.warning("webhook failed", extra={"event": payload["event"], "error": type(exc).__name__})
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Waits until every queued event was posted (or failed); False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()

        def wait_for_queue() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait_for_queue, daemon=True).start()
        return done.wait(timeout_s)

    def close(self) -> None:
        if self._thread is not None:
            self.flush(self.timeout_s)
            self._queue.put(None)
            self._thread.join(self.timeout_s)
            self._thread = None
