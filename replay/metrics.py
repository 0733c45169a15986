"""Harm metrics of one replay, from its record alone: wrongful borrower loss and bad debt by cause.

A liquidation is wrongful when the position was healthy at the fair price with the threshold the market
applied then. A borrower's wrongful chain starts at the first wrongful liquidation and takes in every
later liquidation of the same borrower: once a dislocated price has taken collateral, what follows is
part of the same harm, even when the fair price would call the later step rightful.

Bad debt is split by cause per borrower. `dislocation`: the borrower's chain started with a wrongful
liquidation, or the debt was written off while the fair price said the position was solvent (fair
price at or above its break-even, debt / collateral). `price_fell`: the fair price was below the
position's break-even, so the loss was the asset's own repricing. The record carries each liquidation's
position before and after, so the split needs nothing beyond `Record` as it is; a record that carries
its own causes (`Record.bad_debt_causes`) is used as is instead (`bad_debt_by_cause`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DUST = 1e-9  # collateral tokens left below this count as none (float rounding of raw units)
CAUSES = ("price_fell", "dislocation")


class LiquidationLike(Protocol):
    t: float
    borrower: str
    repaid: float
    seized: float
    debt_before: float
    collateral_before: float
    threshold_bps: int
    fair_price: float


def is_wrongful(liq: LiquidationLike) -> bool:
    """Healthy at the fair price, with the threshold the market applied at that moment."""
    return (
        liq.debt_before > 0
        and liq.collateral_before * liq.fair_price * liq.threshold_bps / 10_000 / liq.debt_before >= 1
    )


def written_off(liq: LiquidationLike) -> float:
    """Debt the market wrote off in this liquidation: all that was left once the last collateral went
    (LendingMarket.liquidate); the Liquidation's debt_before already includes it."""
    if liq.collateral_before - liq.seized > DUST * max(1.0, liq.collateral_before):
        return 0.0
    return max(0.0, liq.debt_before - liq.repaid)


def borrower_loss(liq: LiquidationLike) -> float:
    """What this liquidation cost its borrower, in USD at the fair price: the collateral taken, less the
    debt it cleared (repaid, and written off: the borrower owes that no more, the lenders carry it)."""
    return liq.seized * liq.fair_price - liq.repaid - written_off(liq)


@dataclass
class Harm:
    wrongful_borrowers: int = 0
    wrongful_borrower_loss_usd: float = 0.0
    wrongful_seized_usd: float = 0.0  # gross: collateral seized in the wrongful chains, at the fair price
    bad_debt_by_cause: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))


def wrongful_chains(liquidations: Iterable[LiquidationLike]) -> dict[str, list[LiquidationLike]]:
    """Borrower -> their liquidations from the first wrongful one on, in time order."""
    chains: dict[str, list[LiquidationLike]] = {}
    for liq in sorted(liquidations, key=lambda x: x.t):
        if liq.borrower in chains:
            chains[liq.borrower].append(liq)
        elif is_wrongful(liq):
            chains[liq.borrower] = [liq]
    return chains


def harm(
    liquidations: Iterable[LiquidationLike],
    opened: Mapping[str, tuple[float, float]],
    fair_end: float,
) -> Harm:
    """The harm metrics of a record: its liquidations, positions at t = 0 and the fair price at the end."""
    liquidations = sorted(liquidations, key=lambda x: x.t)
    chains = wrongful_chains(liquidations)
    out = Harm(wrongful_borrowers=len(chains))
    for chain in chains.values():
        out.wrongful_borrower_loss_usd += sum(borrower_loss(liq) for liq in chain)
        out.wrongful_seized_usd += sum(liq.seized * liq.fair_price for liq in chain)
    # The position each borrower is left with: the last liquidation's after, else the one opened.
    left: dict[str, tuple[float, float]] = {who: (c, d) for who, (c, d) in opened.items()}
    for liq in liquidations:
        loss = written_off(liq)
        if loss > 0:
            cause = (
                "dislocation"
                if liq.borrower in chains or liq.fair_price * liq.collateral_before >= liq.debt_before
                else "price_fell"
            )
            out.bad_debt_by_cause[cause] += loss
        left[liq.borrower] = (
            max(0.0, liq.collateral_before - liq.seized),
            max(0.0, liq.debt_before - liq.repaid - loss),
        )
    for who, (collateral, debt) in left.items():
        uncovered = debt - collateral * fair_end
        if uncovered > 0:
            # the fair price is below this position's break-even by construction, unless a wrongful
            # chain took the collateral that would have covered it
            out.bad_debt_by_cause["dislocation" if who in chains else "price_fell"] += uncovered
    return out


def bad_debt_by_cause(record: Any, fair_end: float, total: float) -> dict[str, float]:
    """Bad debt by cause, rounded to cents, with `unattributed`: the engine's total less the causes
    found from the record (interest accrued over the replay, which the record does not carry)."""
    given = getattr(record, "bad_debt_causes", None)  # a record that classifies its own write-offs
    causes = (
        dict(given)
        if isinstance(given, Mapping)
        else harm(record.liquidations, record.opened, fair_end).bad_debt_by_cause
    )
    out = {k: round(v, 2) for k, v in causes.items()}
    out["unattributed"] = round(total - sum(causes.values()), 2) + 0.0
    return out
