"""Stateful property test of the coupling: one breaker market, its guarded pool and a lending market.

The world: a CircuitBreaker market (default parameters) whose venue is a 1M/1M USDe/USDC-like
GuardedPool that is also its consumer; a LendingMarket (USDC lent against USDe) on the same market,
priced from the pool's spot price or from the reference oracle (governance switches); a
ReferenceOracle medianing three MockAggregator feeds (quorum 2, heartbeat 1 h). Every contract is
the real one; only the feeds are mocks.

Rules (any of them, in any order):
- trading: swaps both ways from dust to dumps of half the pool, arbitrage toward the reference, a
  crash (makers pull 90% of the depth, a seller dumps to the band floor);
- liquidity: two LPs add and remove any share of the pool, including all of it;
- lending: a lender supplies and withdraws idle cash; two borrowers borrow, repay, add and
  withdraw collateral; a liquidator liquidates whenever it tries;
- the world: reference moves (two or three feeds), a broken feed, fresh rounds, time jumps from
  one second to a day (feeds go stale unless refreshed), a flash crash (reference and pool fall
  together within the velocity window);
- the breaker: rule A arm and confirm by anyone, rule B trip and extension by the keeper, guardian
  trip and extension, permissionless resume arm and confirm, forced resume, `sync`, `poke`;
- governance: parameter changes of the breaker, the pool and the lending market inside and
  outside their bounds, threshold ramps, price source, pause;
- every privileged function called by an account without the role.

Every transaction's outcome is predicted from the state read just before it (same block time:
the node advances exactly one second per block): the exact revert reason, or success and the
state it leaves (breaker status word, reserves, debts).

Invariants after every step (the coupling):
- no swap executes unless the breaker's time-driven state is NORMAL; the pool's and the lending
  market's cached states equal the breaker's stored state after every transition;
- no liquidation executes while liquidations are frozen or in grace;
- every LP can exit (its whole balance, simulated with eth_call) with exactly its share, the lender
  can withdraw idle cash, borrowers can repay and add collateral, in every state;
- tokens are conserved (pool + lending + actors hold the whole supply) and the books match;
- while the market is not NORMAL: no bad debt is realised and the lenders' share price does not
  fall, and collateral is valued at the breaker's frozen price; outside that, the share price
  falls only by bad debt written off;
- the breaker's packed status agrees with its `state()` view (time-driven transitions modelled);
- rule A and B trips never exceed the daily budget (guardian trips count toward it);
- unauthorised calls always revert naming the missing role.

Counts come from tests/property/profiles.py (HYPOTHESIS_PROFILE): quick 4 examples x 30 steps; ci
100 x 100 = 10,000 steps, topped up if hypothesis stops an example early. The run prints "coupled stateful: N
steps in M examples", adds it to the terminal summary, and writes results/stateful.json.

Layout: this file deploys the world and runs the machine; the rules and invariants are in
coupled_machine.py, the model they predict with (time-made transitions, parameter consistency,
constant-product output, revert reasons) in coupled_model.py.

Speed: contracts are deployed with ape, but the steps talk raw JSON-RPC to the node (anvil's
unlocked test accounts, reads batched into one request): ape's per-transaction work (gas estimate,
signing, receipt decoding, traces of failures) costs 40-500 ms, which would stretch the CI
profile past an hour.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    run_state_machine_as_test,
)

from deployment.pool import deploy_pool
from tests.property.coupled_machine import Rpc, build_machine
from tests.property.coupled_model import COL, LIQUIDATION_THRESHOLD_BPS, MAX, PRICE_VENUE, USD
from tests.property.profiles import active_profile, counts
from tests.unit.lending.conftest import lending_params

# ---------------------------------------------------------------- profiles

PROFILE = active_profile()
EXAMPLES, STEPS = counts("coupled")
RESULTS = Path(__file__).resolve().parents[2] / "results" / "stateful.json"


# ---------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def coupled_breaker(create_breaker):
    """A breaker of this module's own: market 0 is the pool, whatever other suites registered."""
    return create_breaker()


@pytest.fixture
def world(
    project,
    accounts,
    coupled_breaker,
    create_feed,
    create_oracle,
    deployer,
    governance,
    guardian,
    keeper,
    anyone,
):
    breaker = coupled_breaker
    feeds = [create_feed(answer=1.0) for _ in range(3)]
    oracle = create_oracle(feeds, quorum=2, heartbeat=3_600)
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=governance,
        price=1,
        liquidity_collateral=1_000_000,
    )
    pool, col, debt, market_id = deployed.pool, deployed.collateral, deployed.debt, deployed.market_id
    lending = project.LendingMarket.deploy(
        debt,
        col,
        PRICE_VENUE,
        pool,
        breaker,
        market_id,
        LIQUIDATION_THRESHOLD_BPS,
        lending_params(halt_rate_multiplier_bps=20_000, max_grace_s=1_800),
        sender=governance,
    )
    breaker.add_consumer(market_id, lending, sender=governance)

    lp, borrowers, liquidator, lender = accounts[5], [accounts[6], accounts[8]], accounts[7], accounts[9]
    trader = anyone  # the permissionless caller is also the trader and arbitrageur
    grants = {  # collateral, debt minted to each actor
        deployer: (20_000_000, 20_000_000),
        lp: (20_000_000, 20_000_000),
        trader: (5_000_000, 5_000_000),
        lender: (0, 3_000_000),
        liquidator: (0, 3_000_000),
        borrowers[0]: (2_000_000, 1_000_000),
        borrowers[1]: (2_000_000, 1_000_000),
    }
    for actor, (c, d) in grants.items():
        if c:
            col.mint(actor, c * COL, sender=deployer)
        if d:
            debt.mint(actor, d * USD, sender=deployer)
        for token in (col, debt):
            token.approve(pool, MAX, sender=actor)
            token.approve(lending, MAX, sender=actor)
    pool.transfer(lp, pool.balanceOf(deployer) // 2, sender=deployer)  # two LPs, half each
    lending.supply(2_000_000 * USD, sender=lender)
    for who in borrowers:
        lending.deposit_collateral(who, 1_000_000 * COL, sender=who)

    return SimpleNamespace(
        breaker=breaker,
        market_id=market_id,
        feeds=feeds,
        oracle=oracle,
        pool=pool,
        col=col,
        debt=debt,
        lending=lending,
        deployer=deployer,
        governance=governance,
        guardian=guardian,
        keeper=keeper,
        trader=trader,
        lps=[deployer, lp],
        lender=lender,
        borrowers=borrowers,
        liquidator=liquidator,
        everyone=list(accounts)[:10],
    )


@pytest.mark.funds_exit
def test_st_coupled(world, chain, stateful_report):
    rpc = Rpc(chain.provider.uri)
    run = Counter()  # examples and steps actually executed
    tally: Counter[str] = Counter()  # what the steps did, for the report
    started = time.monotonic()
    # One second per block, whatever the wall clock does: every outcome is predictable and every
    # example replays exactly.
    rpc.request("anvil_setBlockTimestampInterval", 1)
    try:
        machine = build_machine(world, rpc, run, tally)
        target = EXAMPLES * STEPS
        for _ in range(3):  # top up if hypothesis ended some examples early
            remaining = target - run["steps"]
            if remaining <= 0:
                break
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=math.ceil(remaining / STEPS),
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
    finally:
        rpc.request("anvil_removeBlockTimestampInterval")
        seconds = time.monotonic() - started
        line = (
            f"coupled stateful: {run['steps']} steps in {run['examples']} examples "
            f"({PROFILE} profile, {seconds:.0f} s)"
        )
        print(f"\n{line}\n{dict(sorted(tally.items()))}")
        stateful_report.append(line)
        _write_results(
            {
                "profile": PROFILE,
                "steps": run["steps"],
                "examples": run["examples"],
                "seconds": round(seconds, 1),
                "outcomes": dict(sorted(tally.items())),
            }
        )
    assert run["steps"] >= target


def _write_results(entry: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = json.loads(RESULTS.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        results = {}
    results["coupled"] = entry
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
