"""Who signs the keeper's transactions: a local key, an encrypted keystore, or a remote signer.

Every signer has `address` and `sign_transaction(tx) -> Signed` (`raw_transaction`, `hash`), which is all
the executor uses. The key of a local signer lives in one private attribute; `repr`, `str`, pickling and
tracebacks never show it (`__repr__` names the address only; `__getstate__` refuses).

- `LocalSigner`: a hex key (from `KEEPER_PRIVATE_KEY` or `private_key_file`), or a Web3 Secret Storage
  keystore decrypted with a password (`KEEPER_KEYSTORE_PASSWORD` or `keystore_password_file`).
- `RemoteSigner`: JSON-RPC `eth_signTransaction` on a signer that holds the key (web3signer, Clef):
  the keeper process never sees it. The answer is checked: the signed transaction must come from the
  configured address and carry exactly the fields asked for, else nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import requests
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes


class SignerError(RuntimeError):
    """The signer refused, failed, or answered something else than the transaction asked for."""


@dataclass(frozen=True)
class Signed:
    raw_transaction: bytes
    hash: bytes


class Signer(Protocol):
    address: str

    def sign_transaction(self, tx: dict[str, Any]) -> Signed: ...


class LocalSigner:
    """A key held in this process."""

    kind = "local"

    def __init__(self, key: bytes | str) -> None:
        account = Account.from_key(key)
        self.address: str = account.address
        self.__account = account  # name-mangled: not found by accident (e.g. `vars()` dumps list it mangled)

    def sign_transaction(self, tx: dict[str, Any]) -> Signed:
        # eth_account's frames hold the key in their locals: an error is re-raised outside the except block,
        # so that neither its traceback nor a chained exception carries those frames to a log or a tracker.
        failure = None
        try:
            signed = self.__account.sign_transaction(tx)
        except Exception as exc:  # noqa: BLE001 - re-raised below, without its frames
            failure = f"{type(exc).__name__}: {str(exc)[:200]}"
        if failure is not None:
            raise SignerError(f"local signer: {failure}")
        return Signed(bytes(signed.raw_transaction), bytes(signed.hash))

    def __repr__(self) -> str:
        return f"LocalSigner({self.address})"

    __str__ = __repr__

    def __getstate__(self) -> Any:
        raise TypeError("a signer holding a key cannot be pickled")

    def __reduce__(self) -> Any:
        raise TypeError("a signer holding a key cannot be pickled")


def _hex(value: int) -> str:
    return hex(int(value))


class RemoteSigner:
    """`eth_signTransaction` over JSON-RPC (web3signer, Clef). `url` may carry a token: it is never shown."""

    kind = "remote"

    def __init__(
        self,
        url: str,
        address: str,
        *,
        timeout_s: float = 5.0,
        session: requests.Session | None = None,
        label: str = "remote signer",
    ) -> None:
        self.url = url
        self.address = to_checksum_address(address)
        self.timeout_s = timeout_s
        self.label = label
        self.session = session or requests.Session()
        self._id = 0

    def __repr__(self) -> str:
        return f"RemoteSigner({self.address} at {self.label})"

    __str__ = __repr__

    def _call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        try:
            resp = self.session.post(
                self.url,
                json={"jsonrpc": "2.0", "id": self._id, "method": method, "params": params},
                timeout=self.timeout_s,
            )
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise SignerError(f"{self.label}: {method} failed ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise SignerError(f"{self.label}: {method} answered {type(body).__name__}, not a JSON-RPC object")
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            raise SignerError(f"{self.label}: {method} refused: {error.get('message', error)}")
        return body.get("result")

    def accounts(self) -> list[str]:
        """The addresses the signer holds (`eth_accounts`)."""
        return [to_checksum_address(a) for a in self._call("eth_accounts", []) or []]

    def sign_transaction(self, tx: dict[str, Any]) -> Signed:
        asked = {
            "from": self.address,
            "to": tx["to"],
            "gas": _hex(tx["gas"]),
            "nonce": _hex(tx["nonce"]),
            "value": _hex(tx.get("value", 0)),
            "data": tx.get("data") or "0x",
            "chainId": _hex(tx["chainId"]),
            "maxFeePerGas": _hex(tx["maxFeePerGas"]),
            "maxPriorityFeePerGas": _hex(tx["maxPriorityFeePerGas"]),
            "type": "0x2",
        }
        result = self._call("eth_signTransaction", [asked])
        raw_hex = (
            result.get("raw") if isinstance(result, dict) else result
        )  # Clef: {raw, tx}; web3signer: raw
        if not isinstance(raw_hex, str) or not raw_hex.startswith("0x"):
            raise SignerError(f"{self.label}: eth_signTransaction answered no raw transaction")
        raw = bytes.fromhex(raw_hex[2:])
        self._check(raw, tx)
        return Signed(raw, keccak(raw))

    def _check(self, raw: bytes, tx: dict[str, Any]) -> None:
        """The signer must sign what was asked, from the configured address: anything else is not sent."""
        try:
            sender = Account.recover_transaction(raw)
            got = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        except Exception as exc:  # noqa: BLE001 - any undecodable answer is refused the same way
            raise SignerError(
                f"{self.label}: signed transaction does not decode ({type(exc).__name__})"
            ) from None
        if to_checksum_address(sender) != self.address:
            raise SignerError(f"{self.label}: signed by {sender}, not {self.address}")
        want = {
            "nonce": int(tx["nonce"]),
            "gas": int(tx["gas"]),
            "maxFeePerGas": int(tx["maxFeePerGas"]),
            "maxPriorityFeePerGas": int(tx["maxPriorityFeePerGas"]),
            "chainId": int(tx["chainId"]),
            "value": int(tx.get("value", 0)),
            "to": to_checksum_address(tx["to"]),
        }
        have = {k: (to_checksum_address(got[k]) if k == "to" else int(got[k])) for k in want}
        if have != want:
            diff = {k: (want[k], have[k]) for k in want if want[k] != have[k]}
            raise SignerError(f"{self.label}: signed transaction differs from the request: {diff}")
        data = got.get("data", b"")
        data_hex = "0x" + (
            bytes(data).hex() if isinstance(data, (bytes, bytearray)) else str(data).removeprefix("0x")
        )
        if data_hex.lower() != (tx.get("data") or "0x").lower():
            raise SignerError(f"{self.label}: signed calldata differs from the request")
