"""What an action becomes on its way out: the call, the simulation's verdict, the outcome, and how a
revert is told apart from a node that could not run the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from web3.exceptions import ContractLogicError, Web3RPCError

from keeper.chain import rpc_error_code
from keeper.model import Kind

# The blocks a simulation runs at: `pending` sees the mempool (anvil, geth), `latest` only what is mined.
BlockTag = Literal["pending", "latest"]
# Used when eth_estimateGas cannot run the call at the block it will land in (confirmations).
DEFAULT_GAS = {
    Kind.ARM_TRIP: 250_000,
    Kind.TRIP: 400_000,
    Kind.TRIP_ATTESTED: 400_000,
    Kind.EXTEND_HALT: 200_000,
    Kind.ARM_RESUME: 250_000,
    Kind.RESUME: 400_000,
    Kind.SYNC: 300_000,
    # a full book (256 orders) settles in about 1.9 M gas with a right crossing; a stale one costs more
    Kind.SETTLE_AUCTION: 3_000_000,
    # an observation and a depth sample (the median of 30 values) together cost about 100 k
    Kind.POKE: 150_000,
}
CANCEL_GAS = 21_000


@dataclass(frozen=True)
class Call:
    """One transaction of an action: target, calldata, the arguments it was encoded with."""

    to: str
    data: str
    args: tuple[int, ...]
    label: str


@dataclass
class Outcome:
    status: str  # sent | dry-run | reverted | waiting | in-flight | failed | error
    detail: str = ""
    tx_hash: str | None = None


@dataclass(frozen=True)
class Simulation:
    """An eth_call's verdict: passes (`output` holds its return data), reverts (`revert` holds the reason)
    or fails to run (`error`)."""

    revert: str | None = None
    error: str | None = None
    output: bytes = b""

    @property
    def ok(self) -> bool:
        return self.revert is None and self.error is None

    @property
    def returned_true(self) -> bool:
        """Passed and returned exactly an ABI `true` (`poke` with something to record)."""
        return self.ok and self.output == (1).to_bytes(32, "big")


def _msg(exc: BaseException) -> str:
    return str(exc).lower()


def _is_revert(exc: BaseException) -> bool:
    """A call that reverted, as opposed to a node that could not run it (bad tag, method missing)."""
    if isinstance(exc, ContractLogicError):
        return True
    if isinstance(exc, Web3RPCError):
        return rpc_error_code(exc) == 3 or "revert" in _msg(exc)
    return False


def _revert_reason(exc: BaseException) -> str:
    if isinstance(exc, ContractLogicError):
        return (exc.message or str(exc)).removeprefix("execution reverted: ")
    return str(exc)
