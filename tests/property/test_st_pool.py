"""Stateful property test: a GuardedPool behind a real CircuitBreaker, through every breaker state.

Rules swap both ways (small to band-breaking sizes), add and remove liquidity for two LPs, trip
(guardian), force a resume (governance), let time run through cool-down and auction (`sync`),
and break or fix the reference oracle. Properties checked:
- no swap executes unless the breaker state is NORMAL; in NORMAL a swap inside the band with a
  valid reference always executes, and a swap that leaves the band never does;
- k never decreases, except by a proportional withdrawal (and then by no more than its share);
- every LP can always withdraw exactly its share (simulated after every step, in every state);
- tokens are conserved: the pool holds exactly its reserves and no token leaves the actors;
- the pool's cached state is the breaker's stored state.

Example and step counts come from tests/property/profiles.py (HYPOTHESIS_PROFILE=quick|ci|deep).
"""

from __future__ import annotations

import ape
import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from deployment.pool import NO_DEADLINE, deploy_pool
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.property.profiles import counts

EXAMPLES, STEPS = counts("pool")
MAX = 2**256 - 1
BPS = 10_000
WAD = 10**18
PRICE = 2_000
CLOSED = {
    HALTED: "GuardedPool: market halted",
    COOLDOWN: "GuardedPool: market in cooldown",
    AUCTION: "GuardedPool: market in reopening auction",
}
STALE = "GuardedPool: reference price invalid and band centre stale"


def amount_out(amount_in: int, r_in: int, r_out: int, fee_bps: int) -> int:
    in_after_fee = amount_in * (BPS - fee_bps)
    return in_after_fee * r_out // (r_in * BPS + in_after_fee)


@pytest.fixture
def world(
    project, accounts, chain, breaker, market_id, create_feed, create_oracle, deployer, governance, guardian
):
    feed = create_feed(answer=PRICE)
    oracle = create_oracle([feed])
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        market_id,
        oracle,
        governance=governance,
        liquidity_collateral=1_000,
    )
    pool, collateral, debt = deployed.pool, deployed.collateral, deployed.debt
    lps, trader = [accounts[5], accounts[6]], accounts[7]
    for actor in (*lps, trader):
        collateral.mint(actor, 10_000 * 10**18, sender=deployer)
        debt.mint(actor, 10_000 * PRICE * 10**6, sender=deployer)
        collateral.approve(pool, MAX, sender=actor)
        debt.approve(pool, MAX, sender=actor)
    pool.transfer(lps[0], pool.balanceOf(deployer), sender=deployer)
    return {
        "chain": chain,
        "breaker": breaker,
        "market_id": market_id,
        "feed": feed,
        "pool": pool,
        "collateral": collateral,
        "debt": debt,
        "deployer": deployer,
        "governance": governance,
        "guardian": guardian,
        "lps": lps,
        "trader": trader,
        "holders": [pool, deployer, *lps, trader],
    }


@pytest.mark.funds_exit
def test_st_pool(world):
    w = world
    chain, breaker, pool, collateral, debt = w["chain"], w["breaker"], w["pool"], w["collateral"], w["debt"]
    market_id, lps, trader, feed = w["market_id"], w["lps"], w["trader"], w["feed"]
    fee_bps = pool.fee_bps()
    band_bps = pool.band().width_bps
    scale = pool.DEBT_SCALE() * WAD // pool.COLLATERAL_SCALE()

    class PoolMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.reference_broken = False
            self.supplies = {t: t.totalSupply() for t in (collateral, debt)}
            self.k_per_share = self._k_per_share()

        def teardown(self):
            chain.restore(self.snapshot)

        # ------------------------------------------------------------ helpers

        def _k_per_share(self) -> tuple[int, int]:
            x, y = pool.reserves()
            return x * y, pool.totalSupply() ** 2

        def _stored_state(self) -> int:
            return int(breaker.status(market_id).state)

        def _band_ok(self, sell: bool, x: int, y: int) -> bool:
            centre = PRICE * WAD
            if sell:
                return y * scale // x * BPS >= centre * (BPS - band_bps)
            return -(-(y * scale) // x) * BPS <= centre * (BPS + band_bps)

        # ------------------------------------------------------------ rules: trading and liquidity

        @rule(sell=st.booleans(), size_bps=st.integers(min_value=1, max_value=200))
        def swap_small(self, sell: bool, size_bps: int):
            """Sizes that stay inside a 5% band from the centre (unless the pool is near an edge)."""
            self.swap(sell, size_bps)

        @rule(sell=st.booleans(), size_bps=st.integers(min_value=1, max_value=1_500))
        def swap(self, sell: bool, size_bps: int):
            x, y = pool.reserves()
            r_in, r_out = (x, y) if sell else (y, x)
            amount = max(1, r_in * size_bps // BPS)
            out = amount_out(amount, r_in, r_out, fee_bps)
            new_x, new_y = (x + amount, y - out) if sell else (x - out, y + amount)
            state = pool.breaker_state()
            try:
                receipt = pool.swap(sell, amount, 0, NO_DEADLINE, sender=trader)
            except ContractLogicError as err:
                event(f"swap refused: {err.message}")
                if state != NORMAL:
                    assert err.message == CLOSED[state]
                elif not self._band_ok(sell, new_x, new_y):
                    assert err.message in ("GuardedPool: price below band", "GuardedPool: price above band")
                else:
                    assert self.reference_broken and err.message == STALE, err.message
                return
            event("swap executed")
            assert state == NORMAL, "a swap executed while the market was not NORMAL"
            assert self._band_ok(sell, new_x, new_y), "a swap left the band"
            assert receipt.return_value == out
            assert pool.reserves() == (new_x, new_y)
            assert new_x * new_y >= x * y

        @rule(who=st.integers(min_value=0, max_value=1), size_bps=st.integers(min_value=1, max_value=5_000))
        def add_liquidity(self, who: int, size_bps: int):
            x, y = pool.reserves()
            lp = lps[who]
            if pool.breaker_state() in (COOLDOWN, AUCTION):  # closed until the market reopens
                with ape.reverts("GuardedPool: deposits closed until the market reopens"):
                    pool.add_liquidity(x * size_bps // BPS, y * size_bps // BPS, 0, NO_DEADLINE, sender=lp)
                assert pool.reserves() == (x, y)
                return
            shares = pool.add_liquidity(x * size_bps // BPS, y * size_bps // BPS, 0, NO_DEADLINE, sender=lp)
            assert shares.return_value > 0
            new_x, new_y = pool.reserves()
            assert new_x * new_y >= x * y

        @rule(who=st.integers(min_value=0, max_value=1), part_bps=st.integers(min_value=1, max_value=10_000))
        def remove_liquidity(self, who: int, part_bps: int):
            lp = lps[who]
            shares = pool.balanceOf(lp) * part_bps // BPS
            if shares == 0:
                return
            x, y = pool.reserves()
            supply = pool.totalSupply()
            receipt = pool.remove_liquidity(shares, 0, 0, sender=lp)
            assert tuple(receipt.return_value) == (shares * x // supply, shares * y // supply)
            new_x, new_y = pool.reserves()
            # k shrinks by no more than the withdrawn share: k' >= k * ((S - s) / S)^2.
            assert new_x * new_y * supply**2 >= x * y * (supply - shares) ** 2

        # ------------------------------------------------------------ rules: breaker and reference

        @precondition(lambda self: self._stored_state() != HALTED)
        @rule()
        def trip(self):
            breaker.guardian_trip(market_id, sender=w["guardian"])
            assert pool.breaker_state() == HALTED

        @precondition(lambda self: self._stored_state() == HALTED)
        @rule()
        def force_resume(self):
            breaker.force_resume(market_id, sender=w["governance"])
            assert pool.breaker_state() == COOLDOWN

        @rule(seconds=st.integers(min_value=1, max_value=400))
        def advance(self, seconds: int):
            chain.pending_timestamp += seconds
            chain.mine()
            breaker.sync(market_id, sender=trader)
            if not self.reference_broken:
                feed.set_answer(PRICE * 10**8, sender=w["deployer"])  # a fresh round each heartbeat

        @rule(broken=st.booleans())
        def set_reference_broken(self, broken: bool):
            feed.set_broken(broken, sender=w["deployer"])
            if not broken:
                feed.set_answer(PRICE * 10**8, sender=w["deployer"])
            self.reference_broken = broken

        # ------------------------------------------------------------ invariants

        @invariant()
        def tokens_conserved(self):
            x, y = pool.reserves()
            assert collateral.balanceOf(pool) == x
            assert debt.balanceOf(pool) == y
            for token, supply in self.supplies.items():
                assert token.totalSupply() == supply
                assert sum(token.balanceOf(h) for h in w["holders"]) == supply

        @invariant()
        def k_per_share_never_decreases(self):
            k, supply_sq = self._k_per_share()
            old_k, old_supply_sq = self.k_per_share
            assert k * old_supply_sq >= old_k * supply_sq
            self.k_per_share = (k, supply_sq)

        @invariant()
        def every_lp_can_withdraw_its_share(self):
            x, y = pool.reserves()
            supply = pool.totalSupply()
            for lp in lps:
                shares = pool.balanceOf(lp)
                if shares == 0:
                    continue
                simulated = pool.remove_liquidity.call(shares, 0, 0, sender=lp)
                assert tuple(simulated) == (shares * x // supply, shares * y // supply)

        @invariant()
        def cached_state_is_stored_state(self):
            assert pool.breaker_state() == self._stored_state()

    run_state_machine_as_test(
        PoolMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
