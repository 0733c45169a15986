"""Off-chain sources collected in the background, so that on-chain rules never wait on them.

Rule A and the resume decide on on-chain data only; CEX tickers, books and open interest feed the
keeper's own LCE (rule B, extensions). A source that says `background = True` (the exchanges, with
their timeouts and rate-limit sleeps) runs on its own worker: a cycle waits for it at most `deadline_s`,
then goes on with the newest answer it has given (the indicators reject data older than
`thresholds.max_age_s`). A slow exchange therefore only delays rule B; a source still busy from an
earlier cycle is not asked again until it answers. Other sources (files, replays, the lending
market's events on the keeper's own RPC) answer inline, in order, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from keeper.sources import Source

log = logging.getLogger("keeper.runner")


class BackgroundSources:
    def __init__(
        self,
        sources: Sequence[Source],
        deadline_s: float,
        on_error: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.sources = list(sources)
        self.deadline_s = deadline_s
        self.on_error = on_error
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, len(self.sources)), thread_name_prefix="keeper-source"
        )
        self._running: dict[int, Future[dict[int, Any]]] = {}
        self._latest: dict[int, dict[int, Any]] = {}
        self.late = 0  # answers not in by the deadline (cumulative)
        self._started_at: float | None = None

    def _harvest(self, i: int) -> None:
        future = self._running.get(i)
        if future is None or not future.done():
            return
        del self._running[i]
        name = self.sources[i].name
        try:
            self._latest[i] = future.result()
        except Exception as exc:  # noqa: BLE001 - one source down never stops the keeper
            self.on_error(name)
            log.warning("source failed", extra={"source": name, "error": f"{type(exc).__name__}: {exc}"})

    def start(self, ids: Sequence[int], now: float) -> None:
        """Asks every background source that is not busy: called at the start of a cycle, so that the
        exchanges' I/O overlaps the chain read."""
        self._started_at = time.monotonic()
        for i, source in enumerate(self.sources):
            self._harvest(i)
            if i not in self._running and getattr(source, "background", False):
                self._running[i] = self._workers.submit(source.collect, list(ids), now)

    def collect(self, ids: Sequence[int], now: float) -> list[dict[int, Any]]:
        """The newest answer of every source, waiting for the background ones at most `deadline_s` from
        `start` (which this calls if the cycle did not)."""
        if self._started_at is None:
            self.start(ids, now)
        started, self._started_at = self._started_at, None
        for i, source in enumerate(self.sources):
            if getattr(source, "background", False):
                continue
            self._latest.pop(i, None)
            try:
                self._latest[i] = source.collect(ids, now)
            except Exception as exc:  # noqa: BLE001 - one source down never stops the keeper
                self.on_error(source.name)
                log.warning(
                    "source failed", extra={"source": source.name, "error": f"{type(exc).__name__}: {exc}"}
                )
        if self._running:
            assert started is not None
            wait(
                list(self._running.values()), timeout=max(0.0, self.deadline_s - (time.monotonic() - started))
            )
        for i in list(self._running):
            self._harvest(i)
        for i in self._running:
            self.late += 1
            log.info(
                "source late: deciding without its newest answer",
                extra={"source": self.sources[i].name, "deadline_s": self.deadline_s},
            )
        return [self._latest[i] for i in sorted(self._latest)]

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
