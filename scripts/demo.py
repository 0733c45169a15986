"""`make demo`, part one: the system on a local anvil, one halt walked through by hand.

1. Deploys from config/local.yaml, prints the addresses and each market's state and
   indicators, crashes the mock venue (price -10%, depth to 10% of calm), trips through rule A
   (arm, then confirm in the next block), waits out the halt window with the market recovered,
   and resumes through the same two-block check.
2. A guarded pool as a second market's venue, with a lending market priced from that pool:
   the makers pull their liquidity and a seller dumps, the market trips, the pool refuses swaps,
   and the lending positions are valued at the frozen price instead of the pool's.
(`make demo` then replays the 10 October crash: `python -m replay.compare`.)
"""

from __future__ import annotations

from pathlib import Path

import click
from ape import accounts, chain, project

from keeper.deployment import deploy, load_config
from keeper.pool_deployment import NO_DEADLINE, deploy_pool
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
    governance = accounts.test_accounts[1]  # config/local.yaml's governance
    pool_and_lending(breaker, governance, deployer, anyone)


def pool_and_lending(breaker, governance, deployer, anyone) -> None:
    """Part two: a GuardedPool market and a LendingMarket priced from the pool."""
    click.echo("\n== a guarded pool (USDe/USDC, $2M) as the venue of market 1, a lending market priced from it")
    feed = project.MockAggregator.deploy(8, 10**8, sender=deployer)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(feed, 86_400, sender=deployer)
    pooled = deploy_pool(project, deployer, breaker, None, oracle, governance=governance, price=1.0,
                         liquidity_collateral=1_000_000, fee_bps=4)
    pool, usde, usdc, market = pooled.pool, pooled.collateral, pooled.debt, pooled.market_id
    params = [8_500, 5_000, 500, 0, 4 * 10**16, 75 * 10**16, 8_000, 10_000, 3_600, 86_400]
    lending = project.LendingMarket.deploy(usdc, usde, 2, pool, breaker, market, 9_000, params, sender=deployer)
    breaker.add_consumer(market, lending, sender=governance)
    usdc.mint(deployer, 10_000_000 * 10**6, sender=deployer)
    usdc.approve(lending, 2**256 - 1, sender=deployer)
    lending.supply(1_000_000 * 10**6, sender=deployer)
    borrowers = accounts.test_accounts[6:9]
    for who, health in zip(borrowers, (1.07, 1.2, 1.5), strict=True):
        usde.mint(who, 100_000 * 10**18, sender=deployer)
        usde.approve(lending, 2**256 - 1, sender=who)
        lending.deposit_collateral(who, 100_000 * 10**18, sender=who)
        lending.borrow(int(100_000 * 0.9 / health * 10**6), sender=who)
    click.echo(f"GuardedPool {pool.address}, LendingMarket {lending.address}, market {market}")

    click.echo("\n== the makers pull 90% of the liquidity and a seller dumps 40,000 USDe")
    lp_shares = pool.balanceOf(deployer)
    pool.remove_liquidity(lp_shares * 9 // 10, 0, 0, sender=deployer)
    usde.mint(anyone, 40_000 * 10**18, sender=deployer)
    usde.approve(pool, 2**256 - 1, sender=anyone)
    low, _ = pool.band_limits()
    sold = 0
    for chunk in (20_000, 10_000, 5_000, 2_500):  # the band refuses a sale that would end below its floor
        if _revert_reason(pool, "swap", True, chunk * 10**18, 0, NO_DEADLINE, sender=anyone):
            continue  # the band's revert; a smaller chunk may still fit
        pool.swap(True, chunk * 10**18, 0, NO_DEADLINE, sender=anyone)
        sold += chunk
    ind = breaker.indicators(market)
    click.echo(f"sold {sold:,} USDe, the price band refused the rest; pool price {pool.spot_price() / WAD:.4f} "
               f"(band floor {low / WAD:.4f}), "
               f"CVD {ind.cvd_bps / 100:.2f}%, R_L {ind.rl_bps / 100:.2f}%")
    _show_positions(lending, borrowers, "live pool price")
    breaker.arm_trip(market, sender=anyone)
    breaker.trip(market, sender=anyone)
    click.echo(f"\nrule A tripped market {market}: pool state {state_name(pool.breaker_state())}, "
               f"lending frozen at {lending.frozen_price() / WAD:.4f}")
    click.echo(f"a swap now: {_revert_reason(pool, 'swap', True, 10**18, 0, NO_DEADLINE, sender=anyone)}")
    _show_positions(lending, borrowers, "frozen price")
    click.echo(f"liquidating {borrowers[0].address[:10]}..: "
               f"{_revert_reason(lending, 'liquidate', borrowers[0], 2**256 - 1, sender=anyone)}")
    lp_before = usde.balanceOf(deployer)
    pool.remove_liquidity(pool.balanceOf(deployer) // 2, 0, 0, sender=deployer)
    click.echo(f"an LP withdraws while halted: received {(usde.balanceOf(deployer) - lp_before) / 10**18:,.0f} USDe "
               "and its USDC share (LP funds are never locked)")


def _revert_reason(contract, method: str, *args, sender) -> str:
    """Why a call would revert ("" if it would not), without sending it."""
    data = getattr(contract, method).encode_input(*args)
    try:
        chain.provider.web3.eth.call({"from": sender.address, "to": contract.address, "data": data})
    except Exception as exc:  # noqa: BLE001 - the revert is what we show
        return str(exc.args[0] if exc.args else exc).removeprefix("execution reverted: ")
    return ""


def _show_positions(lending, borrowers, label: str) -> None:
    click.echo(f"positions at the {label}:")
    for who in borrowers:
        health = lending.health_factor(who) / WAD
        flag = "liquidatable" if health < 1 else "healthy"
        click.echo(f"  {who.address[:10]}..  debt {lending.debt_of(who) / 10**6:>9,.0f} USDC  "
                   f"health {health:.3f}  {flag}")
