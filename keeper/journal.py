"""The journal of in-flight transactions, and the lock that gives one key one process.

Every transaction is journaled (written, fsynced, renamed, directory fsynced) after signing and
before broadcasting: a keeper killed between the two finds the transaction in its journal on
restart and adopts it, so no pending nonce of its own is ever unknown to it. A record the node
never saw is simply re-broadcast or given up once its nonce is used.

`StateLock` holds an exclusive `flock` on `<state_dir>/keeper-<chain>-<address>.lock` for the
process's life (the kernel drops it when the process dies, SIGKILL included): a second keeper on
the same key and state directory refuses to start, naming the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from keeper.fees import Fees
from keeper.model import Action, Kind

log = logging.getLogger("keeper.executor")
CANCEL_KIND = "cancel"  # a record the sweeper made for a nonce nobody journaled
PAUSE_FILE = "PAUSED"  # in state_dir: while it exists, the keeper sends nothing (`keeper pause`)


@dataclass
class InFlight:
    """A journaled transaction: every hash signed for this nonce, and the last raw bytes."""

    market_id: int
    kind: str
    args: list[int]
    nonce: int
    gas: int
    max_fee: int
    priority: int
    hashes: list[str]
    raw: str
    first_block: int
    sent_block: int
    replacements: int = 0
    cancel: bool = False
    via_relay: bool = False
    created: float = field(default_factory=time.time)
    to: str = ""  # the contract called; "" (journals written before auctions) is the breaker
    # hashes signed for an action this nonce carried before another action took it over (a poke):
    # hash -> [market_id, kind, args, to], so whichever of them is mined is reported as what it was
    earlier: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def fees(self) -> Fees:
        return Fees(self.max_fee, self.priority)

    def mined_as(self, tx_hash: str) -> InFlight:
        """The record as the transaction `tx_hash` was: the earlier action if it is one of its hashes."""
        earlier = self.earlier.get(tx_hash)
        if earlier is None:
            return self
        market_id, kind, args, to = earlier
        return replace(
            self, market_id=int(market_id), kind=str(kind), args=list(args), to=str(to), cancel=False
        )

    @property
    def action(self) -> Action:
        kind = Kind(self.kind)
        if kind == Kind.SETTLE_AUCTION:
            return Action(kind, self.market_id, auction=self.to)
        lce = self.args[1] if len(self.args) > 1 else None
        return Action(kind, self.market_id, lce)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse to open a directory: the rename still holds
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Journal:
    """In-flight transactions on disk (atomic, durable rewrite), keyed by nonce."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.items: dict[int, InFlight] = {}
        if path is not None and path.is_file():
            try:
                for raw in json.loads(path.read_text()):
                    rec = InFlight(**raw)
                    self.items[rec.nonce] = rec
            except (ValueError, TypeError) as exc:
                log.error("journal unreadable, starting empty", extra={"path": str(path), "error": str(exc)})

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump([asdict(r) for r in sorted(self.items.values(), key=lambda r: r.nonce)], f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def put(self, rec: InFlight) -> None:
        self.items[rec.nonce] = rec
        self.save()

    def drop(self, nonce: int) -> None:
        self.items.pop(nonce, None)
        self.save()

    def for_market(self, market_id: int) -> InFlight | None:
        return next(
            (r for r in self.items.values() if r.market_id == market_id and r.kind != CANCEL_KIND), None
        )


class StateDirLocked(RuntimeError):
    """Another process holds the key's lock in this state directory."""


class StateLock:
    """An exclusive, non-blocking flock naming its holder (pid, host, start time) in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> StateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "an unknown process"
            f.close()
            raise StateDirLocked(
                f"{self.path} is locked by {holder}: one keeper per key; stop that keeper, or give this one "
                "its own key and state_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps(self.holder()))
        f.flush()
        self._file = f
        return self

    @staticmethod
    def holder() -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
