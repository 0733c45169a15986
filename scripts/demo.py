"""`make demo`: deploy the system on a local anvil and walk one market through a halt.

Deploys from config/local.yaml, prints the addresses and each market's state and
indicators, then crashes the mock venue (price -10%, depth to 10% of calm), trips through
rule A (arm, then confirm in the next block), waits out the halt window with the market
recovered, and resumes through the same two-block check.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape import accounts, chain, project

from keeper.deployment import deploy, load_config
from keeper.report import market_lines, print_markets, state_name

CONFIG = Path(__file__).resolve().parent.parent / "config" / "local.yaml"
WAD = 10**18


def main():
    config = load_config(CONFIG)
    deployer = accounts.test_accounts[0]
    anyone = accounts.test_accounts[5]
    click.echo("== deploying config/local.yaml on a local anvil")
    deployment = deploy(config, deployer, project, log=lambda _: None)
    print_markets(deployment, config)

    breaker = deployment.breaker
    market = deployment.markets[0]
    venue = market.venue
    calm_depth = venue.depth_value()

    click.echo("\n== the venue crashes: price 0.90, depth 10% of calm (reference stays at 1.0)")
    venue.set_price(90 * WAD // 100, sender=anyone)
    venue.set_depth(calm_depth // 10, sender=anyone)
    breaker.arm_trip(market.market_id, sender=anyone)
    click.echo(f"block {chain.blocks.head.number}: anyone armed rule A")
    receipt = breaker.trip(market.market_id, sender=anyone)
    [tripped] = receipt.decode_logs(breaker.MarketTripped)
    click.echo(
        f"block {receipt.block_number}: tripped by rule A (CVD {tripped.cvd_bps / 100:.2f}%, "
        f"R_L {tripped.rl_bps / 100:.2f}%), frozen price {tripped.frozen_price / WAD:.4f}, "
        f"state {state_name(breaker.state(market.market_id))}"
    )

    click.echo("\n== the venue recovers; the halt window N must pass before anyone can resume")
    venue.set_price(WAD, sender=anyone)
    venue.set_depth(calm_depth, sender=anyone)
    chain.pending_timestamp += breaker.halt_window(market.market_id)
    breaker.arm_resume(market.market_id, sender=anyone)
    receipt = breaker.resume(market.market_id, sender=anyone)
    [resumed] = receipt.decode_logs(breaker.MarketResumed)
    click.echo(
        f"block {receipt.block_number}: resumed after {resumed.halted_s} s halted "
        f"(CVD {resumed.cvd_bps / 100:.2f}%, R_L {resumed.rl_bps / 100:.2f}%)"
    )
    click.echo("")
    for line in market_lines(breaker, market.market_id, market.name):
        click.echo(line)
