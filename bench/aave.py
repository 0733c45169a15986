"""Gas of the Aave v3 integration on the real Aave v3.0 pool (npm bytecode).

- `gas.aave.steward_freeze` / `gas.aave.steward_unfreeze`: the whole `on_breaker_state` transaction sent by
  the breaker's address (impersonated) for HALTED (setReserveFreeze + LTV 0) and for NORMAL (LTV restored +
  unfreeze).
- `gas.aave.trip_with_steward` / `gas.aave.trip_without_steward`: a guardian trip of a market with and
  without the steward as its consumer (the difference is what the steward adds to a trip).
- `gas.aave.borrow_breaker_feed` / `gas.aave.borrow_chainlink`: a borrow against the collateral priced
  through BreakerFeed (NORMAL: pass-through) and directly by the Chainlink feed.

Each figure is the median gasUsed of MIN_SAMPLES transactions, each from the same chain state (snapshot).
"""

from __future__ import annotations

from ape import chain

from bench import MIN_SAMPLES, median_gas
from devchain.aave import borrow, deploy_core, list_reserve, protect, supply
from devchain.npm import chainlink_mock_container
from keeper import params as P

WAD = 10**18
USDE = 10**18
USDC = 10**6
NORMAL, HALTED = 1, 2


def _from_snapshot(send):
    def once(i: int):
        snapshot = chain.snapshot()
        # A fixed hour since the last block: Aave accrues interest by elapsed time, so the gas of a borrow
        # depends on it; fixing it makes the figure the same on every run (`make gas` compares them).
        chain.pending_timestamp = chain.blocks.head.timestamp + 3_600
        receipt = send(i)
        chain.restore(snapshot)
        return receipt

    return once


def run(project, accounts) -> dict[str, float]:
    deployer, governance, guardian, borrower, lp = (
        accounts[0],
        accounts[1],
        accounts[2],
        accounts[6],
        accounts[5],
    )
    usde = project.FaucetToken.deploy("USDe", "USDe", 18, sender=deployer)
    usdc = project.FaucetToken.deploy("USD Coin", "USDC", 6, sender=deployer)
    mock = chainlink_mock_container()
    usde_feed, usdc_feed = deployer.deploy(mock, 8, 10**8), deployer.deploy(mock, 8, 10**8)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(usde_feed, 86_400, sender=deployer)
    breaker = project.CircuitBreaker.deploy(sender=deployer)
    breaker.grantRole(breaker.GUARDIAN_ROLE(), guardian, sender=deployer)
    venue = project.MockVenue.deploy(WAD, 8_000_000 * WAD, sender=deployer)
    for _ in range(2):  # market 0 gets the steward, market 1 none
        breaker.register_market(venue, oracle, P.as_array(P.resolve()), sender=deployer)

    core = deploy_core(governance)
    list_reserve(core, usde, usde_feed, ltv=7_200, threshold=7_500, bonus=10_850)
    list_reserve(core, usdc, usdc_feed, borrowing=True)
    protected = protect(
        project,
        core,
        breaker,
        0,
        usde,
        usdc,
        usde_feed,
        deployer=deployer,
        governance=deployer,
        aave_admin=governance,
    )
    usdc.faucet(lp, 1_000_000 * USDC, sender=deployer)
    supply(core.pool, usdc, lp, 1_000_000 * USDC)
    usde.faucet(borrower, 10_000 * USDE, sender=deployer)
    supply(core.pool, usde, borrower, 10_000 * USDE)

    figures: dict[str, float] = {}
    figures["gas.aave.borrow_breaker_feed"] = median_gas(
        _from_snapshot(lambda i: borrow(core.pool, usdc, borrower, 1_000 * USDC)), MIN_SAMPLES
    )
    snapshot = chain.snapshot()
    core.oracle.setAssetSources([usde], [usde_feed], sender=governance)
    figures["gas.aave.borrow_chainlink"] = median_gas(
        _from_snapshot(lambda i: borrow(core.pool, usdc, borrower, 1_000 * USDC)), MIN_SAMPLES
    )
    chain.restore(snapshot)

    figures["gas.aave.trip_with_steward"] = median_gas(
        _from_snapshot(lambda i: breaker.guardian_trip(0, sender=guardian)), MIN_SAMPLES
    )
    figures["gas.aave.trip_without_steward"] = median_gas(
        _from_snapshot(lambda i: breaker.guardian_trip(1, sender=guardian)), MIN_SAMPLES
    )

    chain.set_balance(breaker.address, 10**18)
    as_breaker = accounts[breaker.address]
    steward = protected.steward
    figures["gas.aave.steward_freeze"] = median_gas(
        _from_snapshot(lambda i: steward.on_breaker_state(0, HALTED, WAD, sender=as_breaker)), MIN_SAMPLES
    )
    steward.on_breaker_state(0, HALTED, WAD, sender=as_breaker)
    figures["gas.aave.steward_unfreeze"] = median_gas(
        _from_snapshot(lambda i: steward.on_breaker_state(0, NORMAL, WAD, sender=as_breaker)), MIN_SAMPLES
    )
    return figures
