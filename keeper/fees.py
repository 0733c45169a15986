"""EIP-1559 fees: suggestion from eth_feeHistory, replacement bumps, and the headroom under the cap.

A first send is never priced at the cap itself: `first_send_ceiling` keeps room for
`REPLACEMENTS_RESERVED` replacements (each +`bump_percent` on both fields, geth's rule), so a stuck
transaction can always be re-priced or cancelled twice. All of the keeper's markets share one nonce
sequence, so one transaction that can be neither replaced nor cancelled would wedge them all.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from typing import Any

from keeper.config import FeeSettings

log = logging.getLogger("keeper.fees")
GWEI = 10**9
# Blocks whose reward percentile can lift the tip above the longer window's median.
RECENT_BLOCKS = 3
# Replacements a first send leaves room for under the fee cap.
REPLACEMENTS_RESERVED = 2


@dataclass(frozen=True)
class Fees:
    max_fee: int
    priority: int
    base_fee: int = 0

    def describe(self) -> str:
        return f"max {self.max_fee / GWEI:.3f} gwei, tip {self.priority / GWEI:.3f} gwei"


def bump_up(value: int, bump_percent: int) -> int:
    """The smallest value a node accepts as a replacement of `value` (+bump_percent, at least +1 wei)."""
    return max(value + 1, math.ceil(value * (100 + bump_percent) / 100))


def first_send_ceiling(cap_wei: int, bump_percent: int, replacements: int = REPLACEMENTS_RESERVED) -> int:
    """Largest max fee for a first send that still leaves `replacements` bumps under `cap_wei`."""
    ceiling = cap_wei * 100**replacements // (100 + bump_percent) ** replacements
    while ceiling > 0:
        top = ceiling
        for _ in range(replacements):
            top = bump_up(top, bump_percent)
        if top <= cap_wei:
            return ceiling
        ceiling -= 1
    return 0


def suggest_fees(
    history: dict[str, Any],
    cfg: FeeSettings,
    urgency: float,
    node_tip: int | None = None,
    *,
    ceiling_wei: int | None = None,
) -> Fees:
    """EIP-1559 fees for the next block from an eth_feeHistory answer (one reward percentile).

    `ceiling_wei` bounds the max fee (default: the cap less the replacement headroom).
    """
    rewards = [int(r[0]) for r in (history.get("reward") or []) if r]
    nonzero = [r for r in rewards if r > 0]
    recent = [r for r in rewards[-RECENT_BLOCKS:] if r > 0]
    # The recent norm, or the market right now when it is hotter (a crash is when fees spike).
    tip = (
        max(int(statistics.median(nonzero)), int(statistics.median(recent)) if recent else 0)
        if nonzero
        else int(node_tip or 0)
    )
    tip = int(tip * urgency)
    tip = max(int(cfg.min_priority_gwei * GWEI), min(tip, int(cfg.max_priority_gwei * GWEI)))
    base_next = int(history["baseFeePerGas"][-1])
    max_fee = int(base_next * cfg.base_fee_multiplier) + tip
    cap = (
        ceiling_wei
        if ceiling_wei is not None
        else first_send_ceiling(int(cfg.max_fee_gwei * GWEI), cfg.bump_percent)
    )
    if max_fee > cap:
        max_fee = cap
        if base_next + tip > cap:
            log.warning(
                "fee ceiling below the next block's price",
                extra={
                    "ceiling_gwei": cap / GWEI,
                    "cap_gwei": float(cfg.max_fee_gwei),
                    "base_fee_gwei": base_next / GWEI,
                    "hint": "raise fees.max_fee_gwei or the transaction waits for the base fee to fall",
                },
            )
    return Fees(max_fee, min(tip, max_fee), base_next)


def bumped(old: Fees, suggested: Fees, bump_percent: int, cap_wei: int) -> Fees | None:
    """Replacement fees: both fields at least +bump_percent over `old`, or the new suggestion if higher.

    None when the cap does not allow a valid replacement.
    """
    tip = max(bump_up(old.priority, bump_percent), suggested.priority)
    max_fee = max(bump_up(old.max_fee, bump_percent), suggested.max_fee, tip)
    if max_fee > cap_wei:
        return None
    return Fees(max_fee, tip, suggested.base_fee)
