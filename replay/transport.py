"""The keeper's connection to a replay's node: its per-block reads answered from the engine's batch.

Every block the keeper's `cycle()` asks the same things (the head, one batch of breaker and venue
reads at the head's number, its account's nonce at latest and pending, its balance): a third of a replay's
round trips. The keeper runs unchanged on this provider. Whatever the keeper asked in the last
block, the engine asks again for the next one in the batch it sends after mining it (replay/engine.py
`_observe`); the keeper's identical requests are answered from there. Anything else (a simulation at
pending, a fee estimate, a send) goes to the node as before.

An answer is only ever one the node gave for the same request at the same head: the engine mines no
block between its batch and the keeper's cycle, and the keeper's own send (which moves its pending
nonce) drops every stored answer.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from web3 import HTTPProvider

# Reads that depend on nothing but the head block (and the keeper's own sends, for a pending nonce).
PREFETCHABLE = frozenset(
    {"eth_getBlockByNumber", "eth_call", "eth_getTransactionCount", "eth_getBalance", "eth_chainId"}
)
SENDS = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
HEAD = "<head>"  # stands for the head block's number in a remembered request


def _key(method: str, params: Any) -> str:
    return method + json.dumps(params, sort_keys=True, default=str)


class PrefetchingProvider(HTTPProvider):
    """An HTTP provider that answers the requests the engine asked for it in advance."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head: int | None = None  # the head block's number while the answers are valid
        self.answers: dict[str, Any] = {}
        self.asked: dict[str, tuple[str, list[Any]]] = {}  # requests since the last prefetch, as templates
        self._ids = itertools.count(1)
        self.hits = 0
        self.misses = 0
        self.sends = 0  # transactions the keeper sent

    # ------------------------------------------------------------ the engine's side

    def requests_for(self, head: int) -> list[tuple[str, list[Any]]]:
        """What the keeper asked since the last call, for the block `head` (the engine adds them to its
        batch and hands the answers to `answer`)."""
        tag = hex(head)
        out = [(method, [tag if p == HEAD else p for p in params]) for method, params in self.asked.values()]
        self.asked.clear()
        return out

    def answer(self, head: int, requests: list[tuple[str, list[Any]]], results: list[Any]) -> None:
        """Stores the node's `results` for `requests`, all read at block `head` (any earlier answer drops)."""
        self.head = head
        self.answers = {
            _key(method, params): result
            for (method, params), result in zip(requests, results, strict=True)
            if not isinstance(result, Exception)
        }

    # ------------------------------------------------------------ the keeper's side

    def _remember(self, method: str, params: Any) -> None:
        if method not in PREFETCHABLE or not isinstance(params, list | tuple):
            return
        if method == "eth_call" and (len(params) < 2 or params[1] == "pending"):
            return  # a simulation against this block's transactions: asked when it is needed
        if method == "eth_getBlockByNumber" and params[:1] == ["pending"]:
            return
        tag = hex(self.head) if self.head is not None else None
        template = [HEAD if tag is not None and p == tag else p for p in params]
        self.asked.setdefault(_key(method, template), (method, template))

    def make_request(self, method: Any, params: Any) -> Any:
        if method in SENDS:
            self.answers = {}
            self.sends += 1
        self._remember(method, params)
        key = _key(method, params)
        if key in self.answers:
            self.hits += 1
            return {"jsonrpc": "2.0", "id": next(self._ids), "result": self.answers[key]}
        self.misses += 1
        return super().make_request(method, params)

    def make_batch_request(self, batch_requests: Any) -> Any:
        requests = list(batch_requests)
        if any(method in SENDS for method, _ in requests):
            self.answers = {}
            self.sends += sum(method in SENDS for method, _ in requests)
        for method, params in requests:
            self._remember(method, params)
        keys = [_key(method, params) for method, params in requests]
        missing = [i for i, k in enumerate(keys) if k not in self.answers]
        self.hits += len(requests) - len(missing)
        self.misses += len(missing)
        fetched: dict[int, Any] = {}
        if missing:
            responses = super().make_batch_request([requests[i] for i in missing])
            if not isinstance(responses, list):
                return responses  # the node refused the batch: the caller sees its error
            fetched = dict(zip(missing, responses, strict=True))
        return [
            fetched[i]
            if i in fetched
            else {"jsonrpc": "2.0", "id": next(self._ids), "result": self.answers[k]}
            for i, k in enumerate(keys)
        ]
