"""Sends the policy's actions: simulate, price, sign, journal, broadcast, watch, replace, sweep.

- `calls`: the call, the simulation's verdict and the outcome of an action.
- `core`: the executor's state; simulating, gas, fees (keeper/fees.py), nonces, signing, journaling
  (keeper/journal.py, fsynced before any broadcast) and broadcasting.
- `sending`: `submit` (waiting on someone else's pending transaction that does the job, nonce
  reconciliation) and the fee-bumped replacement of a stuck transaction.
- `sweeping`: cancelling pending nonces the journal does not know, so they cannot wedge the markets
  queued behind them.
- `settlement`: `Executor`, whose `tick` settles receipts, replaces, re-broadcasts and sweeps.
"""

from __future__ import annotations

from keeper.executor.calls import (
    CANCEL_GAS,
    DEFAULT_GAS,
    BlockTag,
    Call,
    Outcome,
    Simulation,
)
from keeper.executor.settlement import Executor
from keeper.executor.sweeping import SWEEP_ESCALATIONS

__all__ = [
    "CANCEL_GAS",
    "DEFAULT_GAS",
    "SWEEP_ESCALATIONS",
    "BlockTag",
    "Call",
    "Executor",
    "Outcome",
    "Simulation",
]
