"""`ape run preview_threshold`: which positions a liquidation-threshold change would liquidate.

Before governance ramps a LendingMarket's liquidation threshold, list every position that the
new threshold, applied at once, would make liquidatable at today's valuation price. Borrowers
come from the market's `Borrowed` events; the on-chain view `preview_threshold` checks them in
pages of MAX_PREVIEW (bounded work per call), so the answer uses the contract's own math.

    ape run preview_threshold --market 0x... --threshold-bps 7000 --network ethereum:local:foundry
"""

from __future__ import annotations

from collections.abc import Iterable

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand, network_option

WAD = 10**18


def borrowers_of(market, from_block: int = 0) -> list[str]:
    """Every address that ever borrowed from `market`, in first-borrow order."""
    seen: dict[str, None] = {}
    for log in market.Borrowed.range(from_block, chain.blocks.height + 1):
        seen.setdefault(log.borrower, None)
    return list(seen)


def preview(market, threshold_bps: int, borrowers: Iterable[str]) -> list:
    """`preview_threshold` over all `borrowers`, a page of MAX_PREVIEW at a time."""
    page_size = market.MAX_PREVIEW()
    borrowers = list(borrowers)
    found = []
    for start in range(0, len(borrowers), page_size):
        found.extend(market.preview_threshold(threshold_bps, borrowers[start : start + page_size]))
    return found


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--market", "address", required=True, help="LendingMarket address")
@click.option("--threshold-bps", type=int, required=True, help="the proposed liquidation threshold")
@click.option("--from-block", type=int, default=0, show_default=True, help="first block to read events from")
def cli(address: str, threshold_bps: int, from_block: int):
    market = project.LendingMarket.at(address)
    borrowers = borrowers_of(market, from_block)
    found = preview(market, threshold_bps, borrowers)
    current = market.liquidation_threshold()
    click.echo(
        f"{len(borrowers)} borrowers; a cut from {current} to {threshold_bps} bps applied at once would make "
        f"{len(found)} liquidatable at {market.collateral_price() / WAD:.4f}:"
    )
    for p in found:
        click.echo(
            f"  {p.borrower}  health {p.health_now / WAD:.4f} -> {p.health_new / WAD:.4f}  "
            f"debt {market.debt_of(p.borrower):,}"
        )
    ramp_min = market.params(market.P_RAMP_MIN_S())
    click.echo(f"ramp it instead: set_liquidation_threshold({threshold_bps}, >= {ramp_min} s)")
