"""Contract calls and transactions at the cost of one JSON-RPC request each, or less in a batch.

The engine makes some thirty calls per block. Through web3's contract objects each one resolves
the function in the ABI (hashing every signature), runs the validation middleware and asks the
node for its chain id; profiled on a replay that was most of the wall time. Here a contract's
functions are indexed once, calldata is encoded with eth-abi, and requests go straight to the
provider. Reads that do not depend on each other go out together in one JSON-RPC batch (`batch`):
one round trip instead of one each (docs/replay-performance.md).
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_abi_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.utils import get_abi_input_types, get_abi_output_types


class RpcError(RuntimeError):
    """The node refused a request: the method and its error message."""


def request(w3: Web3, method: str, params: list[Any]) -> Any:
    resp = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in resp:
        raise RpcError(f"{method}: {resp['error'].get('message', resp['error'])}")
    return resp["result"]


def batch(w3: Web3, requests: list[tuple[str, list[Any]]], *, raise_errors: bool = True) -> list[Any]:
    """The results of `requests` ([(method, params)]), sent as one JSON-RPC batch, in their order.

    Only for requests whose order does not matter: the node may serve a batch's items concurrently.
    An item the node refuses raises, or with `raise_errors=False` comes back as its RpcError.
    """
    if not requests:
        return []
    responses = w3.provider.make_batch_request(requests)  # type: ignore[arg-type]
    if not isinstance(responses, list):
        raise RpcError(f"batch of {len(requests)} refused: {responses.get('error', responses)}")
    by_id = sorted(responses, key=lambda r: r["id"])  # the answers may come back in any order
    out = []
    for (method, _), resp in zip(requests, by_id, strict=True):
        if "error" in resp:
            error = RpcError(f"{method}: {resp['error'].get('message', resp['error'])}")
            if raise_errors:
                raise error
            out.append(error)
        else:
            out.append(resp["result"])
    return out


class Calls:
    """One contract's functions by name (and argument count, for Vyper's default-argument overloads)."""

    def __init__(self, w3: Web3, contract: Contract) -> None:
        self.w3, self.address = w3, contract.address
        self._functions: dict[tuple[str, int], tuple[bytes, list[str], list[str]]] = {}
        for item in contract.abi:
            if item.get("type") == "function":
                inputs = get_abi_input_types(item)
                self._functions[(item["name"], len(inputs))] = (
                    function_abi_to_4byte_selector(item),
                    inputs,
                    get_abi_output_types(item),
                )

    def data(self, name: str, *args: Any) -> str:
        selector, inputs, _ = self._function(name, args)
        return "0x" + (selector + abi_encode(inputs, args)).hex()

    def call(self, name: str, *args: Any, block: str = "latest") -> Any:
        """The decoded return value; a single value is returned bare, several as a tuple."""
        method, params = self.request(name, *args, block=block)
        return self.decode(name, len(args), request(self.w3, method, params))

    def request(self, name: str, *args: Any, block: str = "latest") -> tuple[str, list[Any]]:
        """The eth_call of `name(*args)` at `block`, for `batch`; `decode` reads its result."""
        return "eth_call", [{"to": self.address, "data": self.data(name, *args)}, block]

    def decode(self, name: str, nargs: int, raw: str) -> Any:
        _, _, outputs = self._functions[(name, nargs)]
        values = abi_decode(outputs, bytes.fromhex(raw[2:]))
        return values[0] if len(values) == 1 else values

    def send(self, name: str, *args: Any, sender: str, gas: int, max_fee: int, tip: int) -> str:
        """Sends from an unlocked account with explicit gas and fees (no estimate): the hash."""
        tx = self.transaction(name, *args, sender=sender, gas=gas, max_fee=max_fee, tip=tip)
        return request(self.w3, "eth_sendTransaction", [tx])

    def transaction(
        self, name: str, *args: Any, sender: str, gas: int, max_fee: int, tip: int
    ) -> dict[str, str]:
        """The eth_sendTransaction parameter of `name(*args)` from an unlocked account."""
        return {
            "from": sender,
            "to": self.address,
            "data": self.data(name, *args),
            "gas": hex(gas),
            "maxFeePerGas": hex(max_fee),
            "maxPriorityFeePerGas": hex(tip),
        }

    def _function(self, name: str, args: tuple[Any, ...]) -> tuple[bytes, list[str], list[str]]:
        try:
            return self._functions[(name, len(args))]
        except KeyError:
            raise AttributeError(f"{self.address}: no function {name} with {len(args)} arguments") from None
