"""RPC endpoints with failover, and consistent batched reads of the breaker.

`RpcPool.call(fn)` runs `fn(web3)` on the preferred healthy endpoint; a transport failure
(connection refused, timeout, HTTP 5xx/429, garbage) marks that endpoint down with a growing
back-off and tries the next. Answers from the node (a revert, "nonce too low") are not transport
failures and propagate. The primary comes back into use once its back-off has passed and it answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import requests
from eth_abi import decode as abi_decode
from eth_utils import get_abi_output_types
from web3 import Web3
from web3.exceptions import BadResponseFormat, ProviderConnectionError, Web3RPCError
from web3.types import RPCEndpoint, RPCResponse

from keeper import params as P
from keeper.config import redact_url
from keeper.model import ChainIndicators, OnChainMarket, State, Status

log = logging.getLogger("keeper.chain")
T = TypeVar("T")


class EndpointBusy(ConnectionError):
    """A node answered items of a batch with an error of its own (rate limit, block or state it lacks), not of
    the call: fail over like a transport error."""


TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ConnectionError,
    TimeoutError,
    ProviderConnectionError,
    BadResponseFormat,
    json.JSONDecodeError,
)
# JSON-RPC error codes that mean "this node cannot serve you now", not "your request is wrong".
_BUSY_CODES = {-32005, 429, -32603}
# Messages of a node that lacks the block or state asked for (behind the head, pruned, syncing): another
# node can answer, so these fail over too. They come with the generic -32000, so the message decides.
_NODE_LACKS_STATE = (
    "header not found",
    "missing trie node",
    "unknown block",
    "block not found",
    "state not available",
    "syncing",
)


def _node_cannot_serve(code: Any, message: str) -> bool:
    message = message.lower()
    if "revert" in message:
        return False  # the call itself failed: every node would say the same
    return code in _BUSY_CODES or any(m in message for m in _NODE_LACKS_STATE)


IVENUE_ABI = [
    {
        "type": "function",
        "name": "depth",
        "stateMutability": "view",
        "inputs": [{"name": "band_bps", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]
# The two views of a ReopeningAuction that say whether the current round has orders to settle.
IAUCTION_READS_ABI = [
    {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint256"}],
    }
    for name in ("book_round", "book_size")
]
ZERO_ADDRESS = "0x" + "00" * 20


class RpcUnavailable(RuntimeError):
    """Every configured RPC endpoint failed."""


def rpc_error_code(exc: Web3RPCError) -> Any:
    """The JSON-RPC error code the node answered with (None when its answer carries none)."""
    response: Any = exc.rpc_response  # the node's JSON, whatever its shape
    error = response.get("error") if isinstance(response, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, TRANSPORT_ERRORS):
        return True
    if isinstance(exc, Web3RPCError):
        return _node_cannot_serve(rpc_error_code(exc), str(exc))
    return False


class _BatchProvider(Protocol):
    """What the HTTP and IPC providers add to web3's BaseProvider: one round trip for several requests."""

    def make_batch_request(
        self, requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse: ...


def json_rpc(w3: Web3, method: str, params: Sequence[Any]) -> RPCResponse:
    """A raw JSON-RPC request (methods web3.py has no wrapper for: anvil's, eth_getTransactionBySender...)."""
    return w3.provider.make_request(RPCEndpoint(method), list(params))


def rpc_result(w3: Web3, method: str, params: Sequence[Any]) -> Any:
    """The result of one raw JSON-RPC request, for reads made every cycle: none of web3's formatting,
    which costs more Python than the read itself. A node's error object raises Web3RPCError, as web3
    would; an answer that is not JSON-RPC (no result, an error that is not an object with a code)
    raises BadResponseFormat, which the pool treats as the endpoint failing (TRANSPORT_ERRORS)."""
    response: Any = json_rpc(w3, method, params)
    if not isinstance(response, dict):
        raise BadResponseFormat(f"{method}: the node answered {response!r:.200}")
    error = response.get("error")
    if error is not None:
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            raise BadResponseFormat(f"{method}: a malformed error {error!r:.200}")
        raise Web3RPCError(f"{method}: {error}", rpc_response=cast(RPCResponse, response))
    if "result" not in response:
        raise BadResponseFormat(f"{method}: an answer with neither result nor error")
    return response["result"]


def json_rpc_batch(
    w3: Web3, requests: Sequence[tuple[str, Sequence[Any]]]
) -> list[RPCResponse] | RPCResponse:
    """Several raw JSON-RPC requests in one batch: the answers in order, or the node's one error answer."""
    provider = cast(_BatchProvider, w3.provider)
    return provider.make_batch_request([(RPCEndpoint(method), list(params)) for method, params in requests])


class WrongChain(RuntimeError):
    """An endpoint serves another chain than the keeper's."""


@dataclass(frozen=True)
class _NoAnswer:
    """Why an endpoint gave no answer: another chain, or a transport failure (`transport` names its error)."""

    message: str
    transport: str | None = None


@dataclass
class Endpoint:
    name: str
    url: str
    w3: Web3
    down_until: float = 0.0
    failures: int = 0
    chain_id: int | None = None  # checked before the endpoint's first use
    excluded: str = ""  # why it is never used (wrong chain)
    head: int = -1
    head_changed_at: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.name} ({redact_url(self.url)})"


def make_web3(url: str, timeout: float) -> Web3:
    # No web3 retries: failing over to another endpoint is faster than retrying a dead one.
    return Web3(
        Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    )


@dataclass
class RpcPool:
    endpoints: list[Endpoint]
    on_error: Callable[[str], None] = lambda name: None
    clock: Callable[[], float] = time.monotonic
    max_backoff_s: float = 60.0
    _current: int = 0
    switches: int = field(default=0)
    expected_chain_id: int | None = None  # once set, every endpoint is checked before its first use
    on_failover: Callable[[str], None] = lambda reason: None

    @classmethod
    def from_urls(cls, urls: Sequence[str], timeout: float = 5.0, **kw: Any) -> RpcPool:
        eps = [Endpoint(f"rpc{i}", str(u), make_web3(str(u), timeout)) for i, u in enumerate(urls)]
        return cls(eps, **kw)

    @property
    def current(self) -> Endpoint:
        return self.endpoints[self._current]

    @property
    def w3(self) -> Web3:
        return self.current.w3

    def _order(self) -> list[int]:
        now = self.clock()
        usable = [i for i, e in enumerate(self.endpoints) if not e.excluded]
        up = [i for i in usable if self.endpoints[i].down_until <= now]
        down = sorted(
            (i for i in usable if self.endpoints[i].down_until > now),
            key=lambda i: self.endpoints[i].down_until,
        )
        return up + down  # healthy by preference (primary first), then the soonest to recover

    def _mark_down(self, ep: Endpoint) -> None:
        ep.failures += 1
        ep.down_until = self.clock() + min(self.max_backoff_s, 2.0 ** min(ep.failures, 6))

    def _verify_chain(self, ep: Endpoint) -> None:
        """Raises WrongChain (and excludes `ep` for good) when it serves another chain."""
        if self.expected_chain_id is None or ep.chain_id is not None:
            return
        chain_id = int(ep.w3.eth.chain_id)
        ep.chain_id = chain_id
        if chain_id != self.expected_chain_id:
            ep.excluded = f"serves chain {chain_id}, not {self.expected_chain_id}"
            self.on_failover("wrong_chain")
            log.error(
                "rpc endpoint serves another chain: never used",
                extra={"endpoint": ep.label, "chain_id": chain_id, "expected": self.expected_chain_id},
            )
            raise WrongChain(f"{ep.label} {ep.excluded}")

    def _ask(self, ep: Endpoint, fn: Callable[[Web3], T]) -> T | _NoAnswer:
        """`fn` on `ep` once its chain is verified. Another chain, or a transport failure (which marks `ep`
        down), is a _NoAnswer; any other error (a revert, the node's own answer) propagates."""
        try:
            self._verify_chain(ep)
            return fn(ep.w3)
        except WrongChain as exc:
            return _NoAnswer(str(exc))
        except Exception as exc:
            if not is_transport_error(exc):
                raise
            self._mark_down(ep)
            self.on_error(ep.name)
            return _NoAnswer(f"{ep.label}: {type(exc).__name__}", transport=type(exc).__name__)

    def call(self, fn: Callable[[Web3], T], what: str = "rpc") -> T:
        errors = []
        for i in self._order():
            ep = self.endpoints[i]
            result = self._ask(ep, fn)
            if isinstance(result, _NoAnswer):
                errors.append(result.message)
                if result.transport is not None:
                    log.warning(
                        "rpc endpoint failed",
                        extra={"endpoint": ep.label, "what": what, "error": result.transport},
                    )
                continue
            if ep.failures:
                log.info("rpc endpoint answering again", extra={"endpoint": ep.label})
            ep.failures = 0
            ep.down_until = 0.0
            if i != self._current:
                log.warning("rpc failover", extra={"from": self.current.label, "to": ep.label})
                self.switches += 1
                self._current = i
            return result
        raise RpcUnavailable(
            f"all {len(self.endpoints)} RPC endpoints failed for {what}: " + "; ".join(errors)
        )

    def check_heads(self, max_lag_blocks: int, stall_s: float) -> dict[str, int]:
        """Reads every usable endpoint's head; moves off the current one when it lags the best head by more
        than `max_lag_blocks`, or has not moved for `stall_s` while another endpoint is ahead. Returns
        {endpoint name: head} of the endpoints that answered (one endpoint: nothing to compare, no reads)."""
        if len([e for e in self.endpoints if not e.excluded]) < 2:
            return {}
        now = self.clock()
        heads: dict[int, int] = {}
        for i in self._order():
            ep = self.endpoints[i]
            if ep.down_until > now and i != self._current:
                continue
            number = self._ask(ep, lambda w3: int(w3.eth.block_number))
            if isinstance(number, _NoAnswer):
                continue
            if number != ep.head:
                ep.head, ep.head_changed_at = number, now
            heads[i] = number
        if not heads:
            return {}
        best = max(heads.values())
        cur = self._current
        ep = self.current
        reason = ""
        if cur in heads and best - heads[cur] > max_lag_blocks:
            reason = "lagging"
        elif cur in heads and heads[cur] < best and now - ep.head_changed_at > stall_s:
            reason = "stalled"
        if reason:
            self._mark_down(ep)
            target = next(i for i in self._order() if heads.get(i) == best)
            log.warning(
                "rpc failover: head " + reason,
                extra={
                    "from": ep.label,
                    "to": self.endpoints[target].label,
                    "head": heads[cur],
                    "best": best,
                    "since_change_s": round(now - ep.head_changed_at, 1),
                },
            )
            self.on_failover(reason)
            self.switches += 1
            self._current = target
        return {self.endpoints[i].name: n for i, n in heads.items()}

    def each(self, fn: Callable[[Web3], T], what: str = "rpc") -> list[T | BaseException]:
        """Runs `fn` on every endpoint (e.g. broadcasting a raw transaction to all of them)."""
        out: list[T | BaseException] = []
        for ep in self.endpoints:
            try:
                out.append(fn(ep.w3))
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                if is_transport_error(exc):
                    self.on_error(ep.name)
                out.append(exc)
        return out


def batch_eth_call(
    w3: Web3, calls: Sequence[tuple[str, bytes | str]], block: int | str
) -> list[tuple[bool, bytes | str]]:
    """One JSON-RPC batch of eth_calls at one block: (True, return data) or (False, error message) each."""
    tag = hex(block) if isinstance(block, int) else block
    reqs = [
        ("eth_call", [{"to": to, "data": data if isinstance(data, str) else "0x" + data.hex()}, tag])
        for to, data in calls
    ]
    if not reqs:
        return []
    resp = json_rpc_batch(w3, reqs)
    if not isinstance(resp, list):
        err = resp.get("error") if isinstance(resp, dict) else resp
        raise BadResponseFormat(f"batch rejected: {err}")
    out: list[tuple[bool, bytes | str]] = []
    for r in resp:
        if "error" in r:
            error = r["error"] if isinstance(r["error"], dict) else {"message": r["error"]}
            message = str(error.get("message", error))
            if _node_cannot_serve(error.get("code"), message):
                # The node, not the call, failed (e.g. -32005 rate limit on eth_call alone, or a node behind
                # the block asked for): the whole read is retried on the next endpoint.
                raise EndpointBusy(f"eth_call in a batch answered {error.get('code')}: {message}")
            out.append((False, message))
        else:
            out.append((True, bytes.fromhex(r["result"][2:])))
    return out


class UnreadableMarket(RuntimeError):
    """A breaker view of one market reverted: that market cannot be read at this block."""


def _data(result: tuple[bool, bytes | str], what: str) -> bytes:
    """The return data of a call that must pass."""
    ok, payload = result
    if not ok or not isinstance(payload, bytes):
        raise UnreadableMarket(f"{what} failed: {payload!s}")
    return payload


def _returned(result: tuple[bool, bytes | str]) -> bytes | None:
    """The return data of a call that may revert (a view the contract lacks): None when it did."""
    ok, payload = result
    return payload if ok and isinstance(payload, bytes) else None


@dataclass(frozen=True)
class _Static:
    """What the reader caches per market (re-read every `params_refresh_s`)."""

    params: dict[str, int]
    venue: str
    closes_venue: bool
    auction: str  # "" when the market has no reopening auction


def round_of(status: Status) -> int:
    """The breaker's trip id, which the reopening auction uses as its round."""
    return (status.trip_day << 8) | status.trips_today


class BreakerReader:
    """Reads markets of a CircuitBreaker at one block: state, status, indicators, the venue's depth
    and, for a market with a reopening auction, its book size (+ cached params)."""

    def __init__(
        self,
        pool: RpcPool,
        breaker: str,
        abi: list[dict[str, Any]],
        keeper: str | None,
        params_refresh_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.address = Web3.to_checksum_address(breaker)
        self.contract = Web3().eth.contract(address=self.address, abi=abi)
        self.venue_abi = Web3().eth.contract(abi=IVENUE_ABI)
        self.auction_abi = Web3().eth.contract(abi=IAUCTION_READS_ABI)
        self.keeper = keeper
        self.params_refresh_s = params_refresh_s
        self.clock = clock
        self._static: dict[int, _Static] = {}
        self._static_at = -1e18
        self._role = False
        # the markets the last snapshot could not read, with why: left out of it, the others go on
        self.unreadable: dict[int, str] = {}
        # Calldata and output types by (contract, function, arguments): encoding through web3's contract
        # objects costs about a millisecond a call, and a snapshot asks the same calls every block.
        self._encoded: dict[tuple[Any, ...], tuple[bytes, list[str]]] = {}

    def _fn(self, name: str, *args: Any) -> tuple[bytes, list[str]]:
        key = (self.address, name, *args)
        if key not in self._encoded:
            f = self.contract.get_function_by_name(name)(*args)
            self._encoded[key] = (
                bytes.fromhex(f._encode_transaction_data()[2:]),
                list(get_abi_output_types(f.abi)),
            )
        return self._encoded[key]

    def _view(self, contract: Any, name: str, *args: Any) -> bytes:
        """Calldata of a view of the venue or auction interface (no output types needed: one uint256)."""
        key = (id(contract), name, *args)
        if key not in self._encoded:
            f = contract.get_function_by_name(name)(*args)
            self._encoded[key] = (bytes.fromhex(f._encode_transaction_data()[2:]), ["uint256"])
        return self._encoded[key][0]

    def _load_static(self, w3: Web3, ids: Sequence[int], block: int) -> None:
        calls: list[tuple[str, bytes]] = []
        types: list[list[str]] = []
        for mid in ids:
            for spec in P.PARAMS:
                data, t = self._fn("params", mid, spec.key)
                calls.append((self.address, data))
                types.append(t)
            data, t = self._fn("markets", mid)
            calls.append((self.address, data))
            types.append(t)
            for name in ("venue_halts_with_market", "auction_of"):
                data, t = self._fn(name, mid)
                calls.append((self.address, data))
                types.append(t)
        if self.keeper:
            role_data, _ = self._fn("KEEPER_ROLE")
            role = _data(
                batch_eth_call(w3, [(self.address, role_data)], block)[0],
                f"breaker {self.address}: KEEPER_ROLE()",
            )
            data, t = self._fn("hasRole", role[:32], self.keeper)
            calls.append((self.address, data))
            types.append(t)
        raw = batch_eth_call(w3, calls, block)
        k = 0
        static: dict[int, _Static] = {}
        for mid in ids:
            values: dict[str, int] = {}
            for spec in P.PARAMS:
                r = _data(raw[k], f"market {mid}: params({mid}, {spec.key})")
                values[spec.name] = int(abi_decode(types[k], r)[0])
                k += 1
            market = abi_decode(types[k], _data(raw[k], f"market {mid}: markets({mid})"))[0]
            venue = market[0] if isinstance(market, tuple) else market
            k += 1
            closes = _returned(raw[k])  # absent on breakers deployed before the view existed: False
            closes_venue = closes is not None and len(closes) == 32 and bool(abi_decode(types[k], closes)[0])
            k += 1
            auction_of = _returned(raw[k])  # absent on breakers without reopening auctions: no auction
            auction = (
                Web3.to_checksum_address(abi_decode(types[k], auction_of)[0])
                if auction_of is not None and len(auction_of) == 32
                else ZERO_ADDRESS
            )
            k += 1
            static[mid] = _Static(
                values,
                Web3.to_checksum_address(venue),
                closes_venue,
                "" if auction == ZERO_ADDRESS else auction,
            )
        if self.keeper:
            has_role = _returned(raw[k])
            self._role = (
                has_role is not None and len(has_role) == 32 and bool(abi_decode(types[k], has_role)[0])
            )
        self._static = static
        self._static_at = self.clock()

    def market_count(self) -> int:
        return self.pool.call(
            lambda w3: w3.eth.contract(self.address, abi=self.contract.abi).functions.market_count().call(),
            "market_count",
        )

    def snapshot(
        self, ids: Sequence[int], with_depth: bool = True
    ) -> tuple[dict[str, Any], dict[int, OnChainMarket]]:
        """(head block, {market id: OnChainMarket}) read at one block number."""

        def read(w3: Web3) -> tuple[dict[str, Any], dict[int, OnChainMarket]]:
            head = rpc_result(w3, "eth_getBlockByNumber", ["latest", False])
            if not isinstance(head, dict):
                raise BadResponseFormat(f"the latest block came back as {head!r}")
            number = int(head["number"], 16)
            if self.clock() - self._static_at > self.params_refresh_s or any(
                i not in self._static for i in ids
            ):
                self._load_static(w3, ids, number)
            calls: list[tuple[str, bytes]] = []
            types: list[list[str]] = []
            for mid in ids:
                for name in ("state", "status", "indicators"):
                    data, t = self._fn(name, mid)
                    calls.append((self.address, data))
                    types.append(t)
                static = self._static[mid]
                if with_depth:
                    calls.append(
                        (static.venue, self._view(self.venue_abi, "depth", static.params["depth_band_bps"]))
                    )
                    types.append(["uint256"])
                if static.auction:
                    for name in ("book_round", "book_size"):
                        calls.append((static.auction, self._view(self.auction_abi, name)))
                        types.append(["uint256"])
            raw = batch_eth_call(w3, calls, number)
            out: dict[int, OnChainMarket] = {}
            unreadable: dict[int, str] = {}
            k = 0
            for mid in ids:
                static = self._static[mid]
                per = 3 + with_depth + 2 * bool(static.auction)
                chunk = raw[k : k + per]
                tchunk = types[k : k + per]
                k += per
                try:
                    state_raw, status_raw = (
                        _data(r, f"market {mid}: {name}({mid})")
                        for r, name in zip(chunk[:2], ("state", "status"), strict=True)
                    )
                    ind_raw = _data(
                        self._indicators_at_pending(w3, mid) if _returned(chunk[2]) is None else chunk[2],
                        f"market {mid}: indicators({mid})",
                    )
                except UnreadableMarket as exc:
                    # one market's views reverting (a pair traded at the head and in the pending block)
                    # must not blind the keeper to the others
                    unreadable[mid] = str(exc)
                    continue
                state = State(abi_decode(tchunk[0], state_raw)[0])
                status = Status.from_tuple(abi_decode(tchunk[1], status_raw)[0])
                ind = ChainIndicators.from_tuple(abi_decode(tchunk[2], ind_raw)[0])
                depth = None
                venue_depth = _returned(chunk[3]) if with_depth else None
                if venue_depth:  # a venue that reverts just gives no depth
                    depth = int(abi_decode(["uint256"], venue_depth)[0])
                orders = 0
                if static.auction:
                    book_round, book_size = _returned(chunk[-2]), _returned(chunk[-1])
                    # An auction that does not answer has nothing the keeper can settle; its book belongs
                    # to the last round anyone posted in, so it counts only if that round is this one.
                    if (
                        book_round is not None
                        and book_size is not None
                        and len(book_round) == 32
                        and len(book_size) == 32
                        and int(abi_decode(["uint256"], book_round)[0]) == round_of(status)
                    ):
                        orders = int(abi_decode(["uint256"], book_size)[0])
                out[mid] = OnChainMarket(
                    mid,
                    number,
                    int(head["timestamp"], 16),
                    state,
                    status,
                    ind,
                    dict(static.params),
                    self._role,
                    static.venue,
                    depth,
                    static.closes_venue,
                    static.auction,
                    orders,
                )
            self.unreadable = unreadable
            return {
                "number": number,
                "timestamp": int(head["timestamp"], 16),
                "base_fee": int(head.get("baseFeePerGas") or "0x0", 16),
            }, out

        return self.pool.call(read, "snapshot")

    def _indicators_at_pending(self, w3: Web3, market_id: int) -> tuple[bool, bytes | str]:
        """`indicators(id)` at the pending block, for a market whose read at the head reverted: a venue that
        refuses the block its pool traded in (a Uniswap V2 pair) reads as the next block will see it."""
        data, _ = self._fn("indicators", market_id)
        try:
            return batch_eth_call(w3, [(self.address, data)], "pending")[0]
        except (EndpointBusy, BadResponseFormat, Web3RPCError) as exc:
            return False, f"at the head, and at pending: {exc}"

    def invalidate(self) -> None:
        """Re-read parameters and roles on the next snapshot (e.g. after a ParameterSet event)."""
        self._static_at = -1e18
