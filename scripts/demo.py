"""`make demo`, part one: the system on a local anvil, one halt walked through by hand.

1. Deploys from config/local.yaml, prints the addresses and each market's state and
   indicators, crashes the mock venue (price -10%, depth to 10% of calm), trips through rule A
   (arm, then confirm in the next block), waits out the halt window with the market recovered,
   and resumes through the same two-block check.
2. A guarded pool as a second market's venue, with a lending market priced from that pool:
   the makers pull their liquidity and a seller dumps, the market trips, the pool refuses swaps,
   and the lending positions are valued at the frozen price instead of the pool's.
3. The pool's restart through its reopening auction, driven by the real keeper (`keeper.runner`):
   a designated liquidity provider bids while the market is halted, the makers return and the
   keeper resumes, a holder sells in the cool-down, and in AUCTION the keeper settles: the pool
   reopens at the clearing price.
(`make demo` then replays the 10 October crash: `python -m replay.compare`.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from ape import accounts, chain, project

from deployment.auction import deploy_auction
from deployment.pool import NO_DEADLINE, deploy_pool
from deployment.report import market_lines, print_markets, state_name
from deployment.system import deploy, load_config
from devchain import dev_key
from keeper.config import load_account, load_settings
from keeper.model import Kind
from keeper.runner import Keeper

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
    hold = breaker.params(market.market_id, breaker.P_HOLD_BLOCKS())
    chain.mine(hold)  # rule A confirms a dislocation once it has held at `hold_blocks` block starts
    click.echo(f"the crash holds for {hold} blocks")
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
    pooled = pool_and_lending(breaker, governance, deployer, anyone)
    reopening_auction(breaker, governance, deployer, pooled)


def pool_and_lending(breaker, governance, deployer, anyone):
    """Part two: a GuardedPool market and a LendingMarket priced from the pool."""
    click.echo(
        "\n== a guarded pool (USDe/USDC, $2M) as the venue of market 1, a lending market priced from it"
    )
    feed = project.MockAggregator.deploy(8, 10**8, sender=deployer)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(feed, 86_400, sender=deployer)
    pooled = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=governance,
        price=1.0,
        liquidity_collateral=1_000_000,
        fee_bps=4,
    )
    pool, usde, usdc, market = pooled.pool, pooled.collateral, pooled.debt, pooled.market_id
    params = [8_500, 5_000, 500, 0, 4 * 10**16, 75 * 10**16, 8_000, 10_000, 3_600, 86_400]
    lending = project.LendingMarket.deploy(
        usdc, usde, 2, pool, breaker, market, 9_000, params, sender=deployer
    )
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
    # the breaker reads the pool as a block opens, and rule A confirms once the dump has held at
    # `hold_blocks` block starts
    chain.mine(breaker.params(market, breaker.P_HOLD_BLOCKS()))
    ind = breaker.indicators(market)
    click.echo(
        f"sold {sold:,} USDe, the price band refused the rest; pool price {pool.spot_price() / WAD:.4f} "
        f"(band floor {low / WAD:.4f}), "
        f"CVD {ind.cvd_bps / 100:.2f}%, R_L {ind.rl_bps / 100:.2f}%"
    )
    _show_positions(lending, borrowers, "live pool price")
    breaker.arm_trip(market, sender=anyone)
    breaker.trip(market, sender=anyone)
    click.echo(
        f"\nrule A tripped market {market}: pool state {state_name(pool.breaker_state())}, "
        f"lending frozen at {lending.frozen_price() / WAD:.4f}"
    )
    click.echo(f"a swap now: {_revert_reason(pool, 'swap', True, 10**18, 0, NO_DEADLINE, sender=anyone)}")
    _show_positions(lending, borrowers, "frozen price")
    click.echo(
        f"liquidating {borrowers[0].address[:10]}..: "
        f"{_revert_reason(lending, 'liquidate', borrowers[0], 2**256 - 1, sender=anyone)}"
    )
    lp_before = usde.balanceOf(deployer)
    pool.remove_liquidity(pool.balanceOf(deployer) // 2, 0, 0, sender=deployer)
    click.echo(
        f"an LP withdraws while halted: received {(usde.balanceOf(deployer) - lp_before) / 10**18:,.0f} USDe "
        "and its USDC share (LP funds are never locked)"
    )
    return pooled


KEEPER_ACCOUNT = 3  # config/local.yaml's keeper: anvil's development account 3


def reopening_auction(breaker, governance, deployer, pooled) -> None:
    """Part three: the halted pool market restarts through its reopening auction; the keeper settles it."""
    pool, usde, usdc, market = pooled.pool, pooled.collateral, pooled.debt, pooled.market_id
    dlp, holder = accounts.test_accounts[4], accounts.test_accounts[9]
    click.echo(f"\n== market {market} restarts through a reopening auction ({_short(dlp)}: designated LP)")
    auction = deploy_auction(project, deployer, pool, breaker, governance=governance, dlps=[dlp]).auction
    for who in (dlp, holder):
        usde.mint(who, 100_000 * 10**18, sender=deployer)
        usdc.mint(who, 100_000 * 10**6, sender=deployer)
        usde.approve(auction, 2**256 - 1, sender=who)
        usdc.approve(auction, 2**256 - 1, sender=who)
    settings = load_settings(
        None,
        breaker=breaker.address,
        rpc_urls=[chain.provider.http_uri],
        private_key=dev_key(KEEPER_ACCOUNT),
        markets=[{"id": market, "name": "USDe-USDC-pool"}],
        metrics_port=0,
        state_dir=tempfile.mkdtemp(),
    )
    keeper = Keeper(settings, account=load_account(settings), sources=[])  # on-chain evidence only
    click.echo(
        f"ReopeningAuction {auction.address}; the keeper runs `keeper.runner.Keeper.cycle()` once a block"
    )

    orders = [
        ("DLP", auction.post_order(True, 999 * WAD // 1_000, 40_000 * 10**18, sender=dlp).return_value),
        ("DLP", auction.post_order(False, 1_002 * WAD // 1_000, 10_000 * 10**18, sender=dlp).return_value),
    ]
    click.echo("HALTED: the DLP bids for 40,000 USDe at 0.9990 and offers 10,000 at 1.0020")
    click.echo(
        f"  a public order now: {_revert_reason(auction, 'post_order', False, WAD, 10**18, sender=holder)}"
    )

    usde.approve(pool, 2**256 - 1, sender=deployer)
    usdc.approve(pool, 2**256 - 1, sender=deployer)
    pool.add_liquidity(600_000 * 10**18, 2**112, 0, NO_DEADLINE, sender=deployer)  # at the pool's ratio
    chain.mine(deltatime=breaker.halt_window(market))
    kinds = _cycle_until(keeper, lambda: breaker.state(market) != 2)
    click.echo(
        f"the makers bring back 600,000 USDe of liquidity; after the halt window the keeper sends "
        f"{' then '.join(kinds)}: {state_name(breaker.state(market))}"
    )

    sell = auction.post_order(False, 960 * WAD // 1_000, 10_000 * 10**18, sender=holder)
    orders.append(("public", sell.return_value))
    click.echo("COOLDOWN: a holder sells 10,000 USDe at 0.9600 or better")

    chain.mine(deltatime=breaker.params(market, breaker.P_COOLDOWN_S()))
    click.echo(
        f"the cool-down ends: {state_name(breaker.state(market))}, pool spot {pool.spot_price() / WAD:.4f} "
        f"(frozen since the trip), {auction.book_size()} orders"
    )
    kinds = _cycle_until(keeper, lambda: breaker.state(market) != 8)
    [settled] = keeper.cycle().settlements  # the next cycle reads the receipt and reports it
    pool_side = "bought" if settled.pool_collateral_in > 0 else "sold"
    click.echo(
        f"the keeper sends {' then '.join(kinds)} (crossing read by eth_call): clearing price "
        f"{settled.price / WAD:.4f}, volume {settled.volume / 10**18:,.0f} USDe, imbalance "
        f"{settled.imbalance / 10**18:,.0f} USDe; the pool {pool_side} "
        f"{abs(settled.pool_collateral_in) / 10**18:,.0f} USDe"
    )
    for who, order_id in orders:
        o = auction.order(order_id)
        filled, _collateral_out, _debt_out = auction.claimable(order_id)
        side = "buy " if o.is_buy else "sell"
        click.echo(
            f"  order {order_id} {who:<6} {side} {o.amount / 10**18:>7,.0f} USDe, limit "
            f"{o.limit_price / WAD:.4f}: filled {filled / 10**18:>7,.0f}"
        )
    reopened = chain.provider.get_receipt(settled.tx).decode_logs(breaker.StateAdvanced)[-1]
    low, high = pool.band_limits()
    click.echo(
        f"market {market} {state_name(breaker.state(market))} (reason {reopened.reason}, auction settled): "
        f"pool spot {pool.spot_price() / WAD:.4f}, band {low / WAD:.4f}-{high / WAD:.4f} around "
        "the clearing price; each order claims its fill with `claim(id)`"
    )


def _cycle_until(keeper, done, cycles: int = 6) -> list[str]:
    """Runs keeper cycles (each of its transactions mines a block) until `done()`; the calls it sent."""
    sent = []
    for _ in range(cycles):
        for m in keeper.cycle().markets:
            if m.outcome is not None and m.outcome.status == "sent":
                sent.append(
                    "settle(crossing)" if m.action.kind == Kind.SETTLE_AUCTION else m.action.kind.value
                )
                # automine mines on its own task, a moment after the send has answered
                chain.provider.web3.eth.wait_for_transaction_receipt(
                    m.outcome.tx_hash, timeout=30, poll_latency=0.05
                )
        if done():
            return sent
    raise RuntimeError(f"the keeper did not get there in {cycles} cycles (sent {sent})")


def _short(account) -> str:
    return f"{account.address[:10]}.."


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
        click.echo(
            f"  {who.address[:10]}..  debt {lending.debt_of(who) / 10**6:>9,.0f} USDC  "
            f"health {health:.3f}  {flag}"
        )
