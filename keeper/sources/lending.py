"""Lending positions rebuilt from a LendingMarket's events, kept across restarts.

Each borrower event carries the position's values after the transaction (post-state):

  CollateralDeposited(payer, borrower, amount, collateral)                   collateral
  CollateralWithdrawn(borrower, amount, collateral, debt)                    collateral, debt
  Borrowed(borrower, amount, debt, collateral, price)                        collateral, debt
  Repaid(payer, borrower, amount, debt)                                      debt
  Liquidated(liquidator, borrower, repaid, seized, ..., debt, collateral)    collateral, debt
  BadDebtRealized(borrower, liquidator, amount)                              debt 0 (written off)

so applying them in (block, log index) order is "last writer wins" per field: reading a block
range twice cannot count anything twice.

Cursor and reorgs. `eth_getLogs` runs over bounded block ranges (`log_page_blocks`, halved when
the node refuses a range as too large). Blocks up to `head - reorg_margin_blocks` are folded into
the confirmed positions and the cursor (the last block folded) moves past them; the newer blocks
are read again every cycle and laid over a copy, so a reorg inside the margin changes nothing
confirmed. A reorg deeper than the margin is seen from the cursor block's hash, and the market is
rebuilt from `from_block`. The cursor and the confirmed positions are written to
`state_dir/lending-<chain>-<market>.json` (atomically) whenever they move: a restart backfills from
the cursor, not from `from_block`. A page only counts once its logs and the borrow indices it
needs have all been read, so an RPC error mid-fetch leaves the cursor where it was.

Interest. An event's debt is the debt at its block. The market's `borrow_index()` at that block is
the index every transaction of the block accrued to, so the debt shares behind the event are
`debt x WAD / I_block`, and the debt now is `debt x I_now / I_block`, with
`I_now = total_borrows() x WAD / total_debt_shares()` read at the head (the index accrued to the
head's timestamp, which `borrow_index()` is not until a transaction accrues it).
Approximated: the debt is within a few base units of `debt_of(borrower)` (the market rounds each
debt up and total borrows down). A node that no longer holds the state of an old block (pruned,
not an archive node) cannot answer `borrow_index()` there: such debts are grown from the head's
`borrow_index()` instead (interest between the event and the head's last accrual is missed; logged).
The liquidation threshold is the market's current one (`liquidation_threshold()`, on its ramp) for
every position; debt is valued in the borrowable asset, taken at par with the index's quote currency.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from keeper.chain import RpcPool, RpcUnavailable, is_transport_error, json_rpc_batch
from keeper.indicators import Positions
from keeper.sources.base import Observations

log = logging.getLogger("keeper.sources.lending")

WAD = 10**18
STATE_VERSION = 1
INDEX_BATCH = 100  # eth_calls per JSON-RPC batch

# Borrower events of contracts/LendingMarket.vy: (name, [(field, type, indexed)]).
# tests/keeper/test_lending_source.py checks them against the compiled ABI.
EVENTS: dict[str, list[tuple[str, str, bool]]] = {
    "CollateralDeposited": [
        ("payer", "address", True),
        ("borrower", "address", True),
        ("amount", "uint256", False),
        ("collateral", "uint256", False),
    ],
    "CollateralWithdrawn": [
        ("borrower", "address", True),
        ("amount", "uint256", False),
        ("collateral", "uint256", False),
        ("debt", "uint256", False),
    ],
    "Borrowed": [
        ("borrower", "address", True),
        ("amount", "uint256", False),
        ("debt", "uint256", False),
        ("collateral", "uint256", False),
        ("price", "uint256", False),
    ],
    "Repaid": [
        ("payer", "address", True),
        ("borrower", "address", True),
        ("amount", "uint256", False),
        ("debt", "uint256", False),
    ],
    "Liquidated": [
        ("liquidator", "address", True),
        ("borrower", "address", True),
        ("repaid", "uint256", False),
        ("seized", "uint256", False),
        ("price", "uint256", False),
        ("threshold_bps", "uint256", False),
        ("health_before", "uint256", False),
        ("debt", "uint256", False),
        ("collateral", "uint256", False),
    ],
    "BadDebtRealized": [
        ("borrower", "address", True),
        ("liquidator", "address", True),
        ("amount", "uint256", False),
    ],
}
VIEWS = (
    "borrow_index",
    "total_borrows",
    "total_debt_shares",
    "liquidation_threshold",
    "collateral_token",
    "borrow_token",
)


def _topic(name: str) -> str:
    types = ",".join(t for _, t, _ in EVENTS[name])
    return "0x" + keccak(text=f"{name}({types})").hex().removeprefix("0x")


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature).hex().removeprefix("0x")[:8]


@dataclass(frozen=True)
class _EventLayout:
    """Where an event keeps the borrower (topic index) and the new values (data word index)."""

    name: str
    borrower_topic: int
    collateral_word: int | None
    debt_word: int | None
    writes_off: bool = False


def _layout(name: str) -> _EventLayout:
    fields = EVENTS[name]
    indexed = [f for f, _, ix in fields if ix]
    data = [f for f, _, ix in fields if not ix]
    return _EventLayout(
        name,
        1 + indexed.index("borrower"),
        data.index("collateral") if "collateral" in data else None,
        data.index("debt") if "debt" in data else None,
        writes_off=name == "BadDebtRealized",
    )


LAYOUTS: dict[str, _EventLayout] = {_topic(name): _layout(name) for name in EVENTS}


@dataclass(frozen=True)
class LendingMarketConfig:
    """One LendingMarket to follow (MarketSettings.lce.lending_market and friends)."""

    address: str
    from_block: int = 0
    page_blocks: int = 2_000
    reorg_margin: int = 5


@dataclass
class Change:
    """A borrower event reduced to what it sets (None: left as it was)."""

    block: int
    log_index: int
    borrower: str
    collateral: int | None
    debt: int | None


def decode_log(raw: Mapping[str, Any]) -> Change | None:
    """A borrower event of the market as a Change (None for other events or a removed log)."""
    topics = [Web3.to_hex(t) for t in raw["topics"]]
    layout = LAYOUTS.get(topics[0]) if topics else None
    if layout is None or raw.get("removed"):
        return None
    data = bytes(raw["data"])
    words = [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]
    borrower = to_checksum_address("0x" + topics[layout.borrower_topic][-40:])
    debt = 0 if layout.writes_off else (None if layout.debt_word is None else words[layout.debt_word])
    collateral = None if layout.collateral_word is None else words[layout.collateral_word]
    return Change(int(raw["blockNumber"]), int(raw["logIndex"]), borrower, collateral, debt)


@dataclass
class Position:
    """A borrower as of its last event: collateral and debt in token base units, and the borrow
    index of that event's block (0 when the debt is 0)."""

    collateral: int = 0
    debt: int = 0
    index: int = 0

    def as_list(self) -> list[int]:
        return [self.collateral, self.debt, self.index]


def apply_changes(
    positions: dict[str, Position], changes: Iterable[Change], index_at: Mapping[int, int]
) -> int:
    """Applies changes in order (mutating `positions`); returns how many were applied."""
    n = 0
    for ch in changes:
        pos = positions.get(ch.borrower) or Position()
        if ch.collateral is not None:
            pos.collateral = ch.collateral
        if ch.debt is not None:
            pos.debt = ch.debt
            pos.index = index_at[ch.block] if ch.debt else 0
        if pos.collateral or pos.debt:
            positions[ch.borrower] = pos
        else:
            positions.pop(ch.borrower, None)
        n += 1
    return n


@dataclass
class SyncReport:
    """What the last sync read: the block range, the logs folded into the confirmed positions and
    the logs of the reorg margin laid over them."""

    head: int = 0
    first_block: int | None = None
    confirmed_logs: int = 0
    tail_logs: int = 0
    pages: int = 0
    caught_up: bool = False
    pruned_indices: int = 0


@dataclass
class LendingView:
    """Positions now: raw token units (debt grown to the head), and the threshold for all of them."""

    block: int
    borrowers: list[str]
    collateral: np.ndarray
    debt: np.ndarray
    threshold_bps: int
    collateral_decimals: int
    debt_decimals: int

    def positions(self) -> Positions:
        return Positions(
            self.collateral / 10**self.collateral_decimals,
            self.debt / 10**self.debt_decimals,
            np.full(len(self.borrowers), float(self.threshold_bps)),
        )

    def by_borrower(self) -> dict[str, tuple[float, float]]:
        return {
            b: (float(c), float(d))
            for b, c, d in zip(self.borrowers, self.collateral, self.debt, strict=True)
        }


class BackfillPending(RuntimeError):
    """The market's events are not read up to the head yet (positions would be incomplete)."""


@dataclass
class LendingMarketTracker:
    """Positions of one LendingMarket from its events: cursor, confirmed positions, persistence."""

    pool: RpcPool = field(repr=False)
    config: LendingMarketConfig
    state_path: Path | None = None
    max_pages: int = 50
    address: ChecksumAddress = field(init=False)
    cursor: int = field(init=False)
    cursor_hash: str | None = field(init=False, default=None)
    confirmed: dict[str, Position] = field(init=False, default_factory=dict, repr=False)
    decimals: tuple[int, int] | None = field(init=False, default=None)
    last: SyncReport = field(init=False, default_factory=SyncReport)

    def __post_init__(self) -> None:
        self.address = to_checksum_address(self.config.address)
        self.cursor = self.config.from_block - 1
        self._topics = [list(LAYOUTS)]
        self._page = self.config.page_blocks
        self.load()

    # ------------------------------------------------------------ persistence

    def load(self) -> None:
        if self.state_path is None or not self.state_path.is_file():
            return
        try:
            raw = json.loads(self.state_path.read_text())
            if raw.get("version") != STATE_VERSION or raw.get("market") != self.address:
                raise ValueError("written for another market or version")
            if raw.get("from_block") != self.config.from_block:
                raise ValueError(f"from_block was {raw.get('from_block')}, is {self.config.from_block} now")
            confirmed: dict[str, Position] = {
                to_checksum_address(b): Position(*(int(x) for x in v)) for b, v in raw["positions"].items()
            }
            self.cursor, self.cursor_hash, self.confirmed = (
                int(raw["cursor"]),
                raw.get("cursor_hash"),
                confirmed,
            )
            if raw.get("decimals"):
                self.decimals = (int(raw["decimals"][0]), int(raw["decimals"][1]))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning(
                "lending state not used, rebuilding from from_block",
                extra={"path": str(self.state_path), "error": str(exc), "from_block": self.config.from_block},
            )

    def save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "version": STATE_VERSION,
                    "market": self.address,
                    "from_block": self.config.from_block,
                    "cursor": self.cursor,
                    "cursor_hash": self.cursor_hash,
                    "decimals": list(self.decimals) if self.decimals else None,
                    "positions": {b: p.as_list() for b, p in self.confirmed.items()},
                }
            )
        )
        os.replace(tmp, self.state_path)

    def reset(self) -> None:
        self.cursor, self.cursor_hash, self.confirmed = self.config.from_block - 1, None, {}

    # ------------------------------------------------------------ reading the chain

    def _logs(self, first: int, last: int) -> list[Change]:
        """The market's borrower events in [first, last], in order; splits ranges the node refuses."""

        def get(w3: Web3) -> list[Any]:
            return list(
                w3.eth.get_logs(
                    {"address": self.address, "fromBlock": first, "toBlock": last, "topics": self._topics}
                )
            )

        try:
            raw = self.pool.call(get, "eth_getLogs")
        except Exception as exc:
            if (
                isinstance(exc, RpcUnavailable)
                or is_transport_error(exc)
                or first == last
                or not _range_refused(exc)
            ):
                raise
            middle = (first + last) // 2
            self._page = max(1, (last - first + 1) // 2)
            log.info(
                "eth_getLogs range refused, halving",
                extra={"market": self.address, "blocks": last - first + 1, "error": str(exc)[:200]},
            )
            return self._logs(first, middle) + self._logs(middle + 1, last)
        changes = [c for c in (decode_log(r) for r in raw) if c is not None]
        changes.sort(key=lambda c: (c.block, c.log_index))
        return changes

    def _call(self, w3: Web3, calls: Sequence[tuple[str, str, int | str]]) -> list[tuple[bool, int]]:
        """One JSON-RPC batch of no-argument calls (to, selector, block): (answered, uint256) each."""
        if not calls:
            return []
        reqs = [
            ("eth_call", [{"to": to, "data": data}, hex(block) if isinstance(block, int) else block])
            for to, data, block in calls
        ]
        resp = json_rpc_batch(w3, reqs)
        if not isinstance(resp, list):
            from web3.exceptions import BadResponseFormat

            raise BadResponseFormat(f"batch rejected: {resp}")
        resp = sorted(resp, key=lambda r: int(r.get("id") or 0))
        out = []
        for r in resp:
            if "error" in r or not r.get("result") or len(r["result"]) < 66:
                out.append((False, 0))
            else:
                out.append((True, int(r["result"][2:66], 16)))
        return out

    def _indices(self, blocks: Sequence[int], fallback: int) -> dict[int, int]:
        """borrow_index() at the end of each block; `fallback` where the node has no state any more."""
        selector = _selector("borrow_index()")
        out: dict[int, int] = {}
        pruned = 0
        for i in range(0, len(blocks), INDEX_BATCH):
            chunk = blocks[i : i + INDEX_BATCH]

            def read(w3: Web3, chunk: Sequence[int] = chunk) -> list[tuple[bool, int]]:
                return self._call(w3, [(self.address, selector, b) for b in chunk])

            answers = self.pool.call(read, "borrow_index")
            for b, (ok, value) in zip(chunk, answers, strict=True):
                out[b] = value if ok and value else fallback
                pruned += not (ok and value)
        if pruned:
            self.last.pruned_indices += pruned
            log.warning(
                "borrow_index() not available at old blocks (pruned node?): those debts grow from the "
                "head's index",
                extra={"market": self.address, "blocks": pruned},
            )
        return out

    def _head_views(self, head: int) -> dict[str, int]:
        names = VIEWS if self.decimals is None else VIEWS[:4]
        calls = [(self.address, _selector(f"{n}()"), head) for n in names]
        answers = self.pool.call(lambda w3: self._call(w3, calls), "lending views")
        missing = [n for n, (ok, _) in zip(names, answers, strict=True) if not ok]
        if missing:
            raise RuntimeError(
                f"lending market {self.address}: {', '.join(missing)}() failed at block {head} "
                "(is lending_market a LendingMarket?)"
            )
        views = {n: v for n, (_, v) in zip(names, answers, strict=True)}
        if self.decimals is None:
            tokens = [
                to_checksum_address(views["collateral_token"].to_bytes(32, "big")[-20:]),
                to_checksum_address(views["borrow_token"].to_bytes(32, "big")[-20:]),
            ]
            dec = self.pool.call(
                lambda w3: self._call(w3, [(t, _selector("decimals()"), head) for t in tokens]), "decimals"
            )
            if not all(ok for ok, _ in dec):
                raise RuntimeError(f"lending market {self.address}: token decimals() failed")
            self.decimals = (dec[0][1], dec[1][1])
        return views

    def _block_hash(self, number: int) -> str | None:
        if number < max(self.config.from_block, 0):
            return None
        block = self.pool.call(lambda w3: w3.eth.get_block(number), "eth_getBlockByNumber")
        return Web3.to_hex(block["hash"])

    # ------------------------------------------------------------ one sync

    def sync(self) -> LendingView:
        """Reads new events up to the head; raises BackfillPending while more than `max_pages` pages
        remain."""
        head = int(self.pool.call(lambda w3: w3.eth.block_number, "eth_blockNumber"))
        report = self.last = SyncReport(head=head)
        if self.cursor_hash is not None and self._block_hash(self.cursor) != self.cursor_hash:
            log.error(
                "reorg deeper than the margin: rebuilding lending positions from from_block",
                extra={"market": self.address, "cursor": self.cursor, "from_block": self.config.from_block},
            )
            self.reset()
            self.save()
        views = self._head_views(head)
        head_index = views["borrow_index"]
        safe = head - self.config.reorg_margin
        first = report.first_block = self.cursor + 1
        tail: list[Change] = []
        moved = False
        try:
            while first <= head:
                if first <= safe and report.pages >= self.max_pages:
                    # A stable message: the runner logs observation errors when they change.
                    raise BackfillPending(
                        f"lending market {self.address}: backfilling events (no positions "
                        "until the head is reached)"
                    )
                last = min(head, first + self._page - 1)
                changes = self._logs(first, last)
                index_at = self._indices(sorted({c.block for c in changes if c.debt}), head_index)
                # Everything this page needs from the node is in hand: only now does it count.
                report.pages += 1
                if first <= safe:
                    report.confirmed_logs += apply_changes(
                        self.confirmed, [c for c in changes if c.block <= safe], index_at
                    )
                    self.cursor, moved = min(last, safe), True
                tail += [c for c in changes if c.block > safe]
                first = last + 1
        finally:
            if moved:
                try:
                    self.cursor_hash = self._block_hash(self.cursor)
                except Exception:  # noqa: BLE001 - without it the next sync just cannot check for a deep reorg
                    self.cursor_hash = None
                self.save()
        report.caught_up = True
        current = {b: Position(*p.as_list()) for b, p in self.confirmed.items()}
        tail_index = self._indices(sorted({c.block for c in tail if c.debt}), head_index) if tail else {}
        report.tail_logs = apply_changes(current, tail, tail_index)
        return self._view(head, current, views)

    def _view(self, head: int, positions: Mapping[str, Position], views: Mapping[str, int]) -> LendingView:
        shares, borrows = views["total_debt_shares"], views["total_borrows"]
        index_now = borrows * WAD / shares if shares else float(views["borrow_index"])
        borrowers = list(positions)
        coll = np.array([float(positions[b].collateral) for b in borrowers])
        debt = np.array(
            [
                float(positions[b].debt) * (index_now / positions[b].index) if positions[b].debt else 0.0
                for b in borrowers
            ]
        )
        assert self.decimals is not None
        return LendingView(head, borrowers, coll, debt, views["liquidation_threshold"], *self.decimals)


def _range_refused(exc: BaseException) -> bool:
    """A node's answer that the eth_getLogs range or result set is too large (wording varies by client)."""
    text = str(exc).lower()
    return any(
        w in text for w in ("range", "too many", "more than", "limit", "exceed", "too large", "timeout")
    )


class LendingEventsSource:
    """Lending positions for the breaker's markets, each from its configured LendingMarket's events."""

    name = "lending"

    def __init__(
        self,
        pool: RpcPool,
        markets: Mapping[int, LendingMarketConfig],
        *,
        state_dir: Path | None = None,
        chain_id: int | None = None,
        max_pages: int = 50,
        on_error: Callable[[str], None] = lambda source: None,
    ) -> None:
        self.markets = dict(markets)
        self.on_error = on_error
        self.trackers: dict[str, LendingMarketTracker] = {}
        for cfg in self.markets.values():
            address = to_checksum_address(cfg.address)
            if address in self.trackers:
                continue
            path = None
            if state_dir is not None:
                chain = chain_id if chain_id is not None else "x"
                path = Path(state_dir) / f"lending-{chain}-{address.lower()}.json"
            self.trackers[address] = LendingMarketTracker(pool, cfg, path, max_pages)

    def tracker(self, market_id: int) -> LendingMarketTracker:
        return self.trackers[to_checksum_address(self.markets[market_id].address)]

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        """Positions per market; while a market is unreadable or still backfilling, an error and no positions
        (LCE then counts open interest only, or is unknown)."""
        results: dict[str, Positions | str] = {}
        out: dict[int, Observations] = {}
        for mid in market_ids:
            if mid not in self.markets:
                continue
            tracker = self.tracker(mid)
            if tracker.address not in results:
                try:
                    results[tracker.address] = tracker.sync().positions()
                except BackfillPending as exc:
                    results[tracker.address] = str(exc)
                    log.info(
                        "lending backfill in progress",
                        extra={
                            "market": tracker.address,
                            "cursor": tracker.cursor,
                            "head": tracker.last.head,
                            "confirmed_logs": tracker.last.confirmed_logs,
                        },
                    )
                except Exception as exc:  # noqa: BLE001 - one market's RPC trouble never stops the keeper
                    results[tracker.address] = (
                        f"lending market {tracker.address}: {type(exc).__name__}: {exc}"
                    )
                    self.on_error(self.name)
                    log.warning(
                        "lending source failed",
                        extra={"market": tracker.address, "cursor": tracker.cursor, "error": str(exc)[:300]},
                    )
            got = results[tracker.address]
            out[mid] = (
                Observations(positions=got) if isinstance(got, Positions) else Observations(errors=[got])
            )
        return out
