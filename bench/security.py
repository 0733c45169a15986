"""What it costs to force a rule A trip on a $20M guarded pool at default parameters, and the
per-block cost of the evidence the breaker reads.

The model (every step is executed on a local chain; the figures come from the receipts and the
pool's reserves, not from a formula):

- The pool: collateral at $1 (the reference), 10M units a side ($20M TVL), fee 30 bps, band
  500 bps, the breaker's default parameters (CVD trip 300 bps, R_L trip 2,000 bps), registered
  as its own market, so the calm depth seed is its depth at registration.
- Evidence is what previous blocks left (`IVenue.settled_*`): a bundle that distorts the pool,
  calls the breaker and restores it in one transaction is no evidence (the flash tests in
  tests/unit/breaker/test_trip_rule_a.py and tests/unit/pool/test_flash_evidence.py), and rule A
  confirms only once the deviation held at the starts of the last `hold_blocks` blocks (default
  10), the confirmation's included, and at every start since the arm
  (tests/unit/pool/test_lp_withdrawal_trip.py: two starts revert, one start short of the hold
  reverts, the hold trips).
- R_L below 20% needs the pool's debt reserve below 20% of the calm one at the block starts.
  Trades cannot do it: a sell is stopped at the band's edge, where the debt reserve is still
  sqrt(1 - band) of what it was (`security.rl_floor_by_trading_bps`, measured). So the
  cheapest sequence the tests know needs liquidity to leave: the attacker holds more than 80%
  of the LP shares and withdraws them (fee-free, nothing lost but the capital tied up:
  `security.capital_to_force_trip_usd`), then sells collateral until the price is just past
  the CVD threshold below the reference and keeps it there at `hold_blocks` block starts, arms
  at one of them and confirms at the last.
- Cost: what the attacker loses to arbitrage and fees. A push sells collateral worth
  `dx * reference` for `dy` of debt: the loss is `dx * reference - dy` (price impact and the
  fee), the arbitrageur's gain when it trades the pool back. Arbitrage restores the pool within
  each block, so the attacker pushes again before every block start: `hold_blocks` pushes.
  `security.cost_to_force_trip_usd` = `hold_blocks` x the loss of the push executed here;
  `security.cost_to_force_trip_tvl_share` = that over the TVL. Waiting costs nothing in this
  model (the withdrawn capital earns no pool fees, which is not counted), so a measure that
  only delays when a withdrawal counts against depth would not raise it: the hold does, by
  pricing every block start the dislocation must survive. Its cost is linear in the hold and in
  the depth left in the pool (the attacker's choice, below 20% of the calm depth) and
  quadratic in the dislocation, so at 1% of TVL the hold would be about 350 blocks (70 min),
  which no real crash should wait: the goal is not met at default parameters.
- Here the sell is held without arbitrage (a local chain has none) and the attacker adds a
  tiny sell in every block, so the pool records every block start and the confirmation scans
  `hold_blocks` of them: `gas.breaker.trip_rule_a_pool_hold` is that trip's gas, the worst case
  against the trip target (`gas.breaker.trip_rule_a` trips on a mock venue).
- Without the withdrawn liquidity (an attacker who does not hold most of the pool) rule A
  cannot trip at all; that attacker's only lever is the band-limited price, whose R_L floor is
  reported.

Per-block costs: the guarded pool writes one block start per block in which its reserves change
(`gas.pool.block_start_write`: the first swap of a block minus a second, identical swap in the
same block; the second still reads the ring's last slot, 2,100 gas, to see the start is
recorded), and `..._per_day` is that at one write a block (7,200 blocks). Against the pool
before block starts, a block's first swap pays both, about 5,000 gas (`gas.pool.swap_guarded`).
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from typing import Any

from ape import chain

from deployment.pool import NO_DEADLINE, deploy_pool

getcontext().prec = 50
WAD = 10**18
TVL_USD = 20_000_000
SIDE_UNITS = TVL_USD // 2  # collateral units at $1, and debt units
BLOCKS_PER_DAY = 7_200
CVD_MARGIN_BPS = 5  # the push lands this far past the CVD trip threshold
TINY_SELL = 10**15  # a thousandth of a collateral unit: makes the pool record a block start


def _pool_market(project: Any, deployer: Any) -> Any:
    breaker = project.CircuitBreaker.deploy(sender=deployer)
    feed = project.MockAggregator.deploy(8, 10**8, sender=deployer)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(feed.address, 86_400, sender=deployer)
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=deployer,
        liquidity_collateral=SIDE_UNITS,
        price=1,
    )
    return breaker, deployed


def _rl_floor_by_trading(project: Any, deployer: Any, trader: Any) -> int:
    """R_L after a sell to the band's lowest price, read at the next block start."""
    breaker, deployed = _pool_market(project, deployer)
    pool, collateral, mid = deployed.pool, deployed.collateral, deployed.market_id
    x, _ = pool.reserves()
    band = pool.band().width_bps
    dx = int(Decimal(x) * (1 / (1 - Decimal(band - 1) / 10_000).sqrt() - 1))
    collateral.mint(trader, dx, sender=deployer)
    collateral.approve(pool, dx, sender=trader)
    pool.swap(True, dx, 0, NO_DEADLINE, sender=trader)
    chain.mine()
    return int(breaker.indicators(mid).rl_bps)


def _forced_trip(project: Any, deployer: Any, attacker: Any) -> dict[str, float]:
    breaker, deployed = _pool_market(project, deployer)
    pool, collateral, debt, mid = deployed.pool, deployed.collateral, deployed.debt, deployed.market_id
    rl_trip = breaker.params(mid, breaker.P_RL_TRIP_BPS())
    cvd_trip = breaker.params(mid, breaker.P_CVD_TRIP_BPS())

    # The attacker holds just over (1 - R_L trip) of the shares and withdraws them.
    supply = pool.totalSupply()
    shares = supply * (10_000 - rl_trip) // 10_000 + supply // 1_000
    pool.transfer(attacker, shares, sender=deployer)
    col_out, debt_out = pool.remove_liquidity(shares, 0, 0, sender=attacker).return_value
    capital_usd = Decimal(col_out) / 10**18 + Decimal(debt_out) / 10**6

    # The push: sell until the price is just past the CVD threshold below the reference.
    x, _ = pool.reserves()
    d = Decimal(cvd_trip + CVD_MARGIN_BPS) / 10_000
    dx = int(Decimal(x) * (1 / (1 - d).sqrt() - 1))
    collateral.mint(attacker, dx + 64 * TINY_SELL, sender=deployer)
    collateral.approve(pool, 2**256 - 1, sender=attacker)
    debt_before = debt.balanceOf(attacker)
    pool.swap(True, dx, 0, NO_DEADLINE, sender=attacker)
    dy = debt.balanceOf(attacker) - debt_before
    push_loss_usd = Decimal(dx) / 10**18 - Decimal(dy) / 10**6  # collateral valued at the $1 reference

    # Held at `hold` block starts (the sell's block opened calm): a tiny sell in each block
    # makes the pool record every start, the confirmation's worst-case scan.
    hold = breaker.params(mid, breaker.P_HOLD_BLOCKS())
    sold_in = chain.blocks.head.number
    breaker.arm_trip(mid, sender=attacker)
    while chain.blocks.head.number < sold_in + hold - 1:
        pool.swap(True, TINY_SELL, 0, NO_DEADLINE, sender=attacker)
    receipt = breaker.trip(mid, sender=attacker)
    if breaker.state(mid) != 2 or receipt.block_number != sold_in + hold:
        raise RuntimeError("the modelled sequence did not trip as modelled: the cost model is out of date")
    cost = hold * push_loss_usd
    return {
        "security.cost_to_force_trip_usd": float(round(cost, 2)),
        "security.cost_to_force_trip_tvl_share": float(cost / TVL_USD),
        "security.capital_to_force_trip_usd": float(round(capital_usd, 2)),
        "security.block_starts_held_to_force_trip": hold,
        "gas.breaker.trip_rule_a_pool_hold": receipt.gas_used,
    }


def _block_start_write_gas(project: Any, deployer: Any, trader: Any) -> int:
    """First swap of a block minus a second, identical swap in the same block (both cold)."""
    _, deployed = _pool_market(project, deployer)
    pool, collateral = deployed.pool, deployed.collateral
    amount = 10**18
    collateral.mint(trader, 10 * amount, sender=deployer)
    collateral.approve(pool, 10 * amount, sender=trader)
    deployed.debt.mint(trader, 1, sender=deployer)  # both swaps then pay a nonzero-to-nonzero balance write
    pool.refresh_band(sender=trader)
    w3 = chain.provider.web3
    data = pool.swap.encode_input(True, amount, 0, NO_DEADLINE)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        hashes = [
            w3.eth.send_transaction(
                {"from": trader.address, "to": pool.address, "data": data, "gas": 300_000}
            )
            for _ in range(2)
        ]
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    first, second = (w3.eth.get_transaction_receipt(h) for h in hashes)
    if first.blockNumber != second.blockNumber or not (first.status and second.status):
        raise RuntimeError("the two swaps did not land in one block")
    return int(first.gasUsed - second.gasUsed)


def run(project: Any, accounts: Any) -> dict[str, float]:
    deployer, trader, attacker = accounts[0], accounts[6], accounts[8]
    results = _forced_trip(project, deployer, attacker)
    results["security.rl_floor_by_trading_bps"] = _rl_floor_by_trading(project, deployer, trader)
    write = _block_start_write_gas(project, deployer, trader)
    results["gas.pool.block_start_write"] = write
    results["gas.pool.block_start_write_per_day"] = write * BLOCKS_PER_DAY
    return results
