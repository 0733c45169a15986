"""Stateful property test: a LendingMarket behind a real CircuitBreaker, through every breaker state.

Rules move prices, break the oracle, trip (guardian), force a resume (governance), let time run
through cool-down and auction (`sync`), and have lenders, borrowers and a liquidator act.
Properties checked:
- a borrower can always repay and add collateral (any state, oracle valid or not);
- lenders can always withdraw idle liquidity;
- no liquidation while the breaker state is not NORMAL or during the grace period;
- no new debt while not NORMAL;
- total borrows never exceed net supply plus accrued interest, and the books match the balances;
- a liquidation never leaves the protocol worse off: repaid debt arrives as cash one for one
  (lenders' assets drop only by bad debt written off when the last collateral goes), and a
  position solvent beyond the bonus is left no less healthy, with no bad debt.

Example and step counts come from tests/property/profiles.py (HYPOTHESIS_PROFILE=quick|ci|deep).
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import ape
import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import WAD
from tests.constants import HALTED, NORMAL
from tests.property.profiles import counts
from tests.unit.lending.conftest import COLL, THRESHOLD_BPS, USDC, lending_params

MAX = 2**256 - 1
EXAMPLES, STEPS = counts("lending")
BONUS_BPS = 500
# Why a liquidation in NORMAL, past the grace period, may still be refused.
REFUSALS = (
    "LendingMarket: position is healthy",
    "ReferenceOracle: below quorum",
    "LendingMarket: nothing to liquidate",  # collateral dust worth less than one debt unit
    "LendingMarket: repayment too small",
)


@pytest.fixture
def world(project, accounts, chain, breaker, market_id, feed, venue, oracle, deployer, governance, guardian):
    usdc = project.MockLendingToken.deploy("Mock USD Coin", "USDC", 6, sender=deployer)
    usde = project.MockLendingToken.deploy("Mock Ethena USDe", "USDe", 18, sender=deployer)
    market = project.LendingMarket.deploy(
        usdc,
        usde,
        1,
        oracle,
        breaker,
        market_id,
        THRESHOLD_BPS,
        lending_params(halt_rate_multiplier_bps=20_000, max_grace_s=1_800),
        sender=governance,
    )
    breaker.add_consumer(market_id, market, sender=governance)
    lender, liquidator = accounts[5], accounts[7]
    borrowers = [accounts[6], accounts[8]]
    for actor in (lender, liquidator, *borrowers):
        usdc.approve(market, MAX, sender=actor)
        usde.approve(market, MAX, sender=actor)
    usdc.mint_for_testing(lender, 10**7 * USDC, sender=lender)
    market.supply(200_000 * USDC, sender=lender)
    return SimpleNamespace(
        chain=chain,
        breaker=breaker,
        market_id=market_id,
        feed=feed,
        market=market,
        usdc=usdc,
        usde=usde,
        deployer=deployer,
        governance=governance,
        guardian=guardian,
        lender=lender,
        liquidator=liquidator,
        borrowers=borrowers,
    )


@pytest.mark.funds_exit
def test_st_lending(world):
    w = world
    chain, breaker, market, usdc, usde = w.chain, w.breaker, w.market, w.usdc, w.usde
    market_id, lender, liquidator, borrowers = w.market_id, w.lender, w.liquidator, w.borrowers

    class LendingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.net_supply = market.total_assets()  # supplied minus withdrawn (no interest yet)
            self.rounding = 1  # one wei of slack per debt-changing operation
            self.set_price(Decimal(1))

        def teardown(self):
            chain.restore(self.snapshot)

        # ------------------------------------------------------------ helpers

        def set_price(self, price: Decimal):
            w.feed.set_answer(int(price * 10**8), sender=w.deployer)
            self.price = price

        def state(self) -> int:
            return market.breaker_state()

        def grace(self) -> tuple[bool, bool]:
            """(surely in grace, surely past it) for the next block; wall-clock seconds may pass."""
            now, until = chain.pending_timestamp, market.guard().grace_until
            return now + 5 < until, now >= until

        @initialize(
            collateral=st.lists(st.integers(min_value=1_000, max_value=50_000), min_size=2, max_size=2),
            ltv=st.lists(st.integers(min_value=30, max_value=69), min_size=2, max_size=2),
        )
        def open_positions(self, collateral, ltv):
            """Both borrowers start with a position at 30-69% LTV (liquidatable below 0.38-0.86)."""
            for who, amount, pct in zip(borrowers, collateral, ltv, strict=True):
                usde.mint_for_testing(who, amount * COLL, sender=who)
                market.deposit_collateral(who, amount * COLL, sender=who)
                market.borrow(amount * pct // 100 * USDC, sender=who)
                self.rounding += 1

        # ------------------------------------------------------------ the world

        @rule(price=st.decimals(min_value="0.40", max_value="1.20", places=2))
        def move_price(self, price):
            self.set_price(price)

        @rule()
        def break_oracle(self):
            w.feed.set_answer(0, sender=w.deployer)

        @precondition(lambda self: breaker.state(market_id) != HALTED)
        @rule()
        def trip(self):
            breaker.guardian_trip(market_id, sender=w.guardian)
            assert market.breaker_state() == HALTED

        @precondition(lambda self: breaker.state(market_id) == HALTED)
        @rule()
        def force_resume(self):
            breaker.force_resume(market_id, sender=w.governance)
            assert market.breaker_state() == breaker.state(market_id)

        @rule(seconds=st.integers(min_value=1, max_value=1_500))
        def advance(self, seconds):
            chain.pending_timestamp += seconds
            breaker.sync(market_id, sender=lender)
            assert market.breaker_state() == breaker.state(market_id)

        # ------------------------------------------------------------ lenders

        @rule(amount=st.integers(min_value=1, max_value=50_000))
        def supply(self, amount):
            market.supply(amount * USDC, sender=lender)
            self.net_supply += amount * USDC

        @rule(fraction=st.floats(min_value=0.01, max_value=1.0))
        def withdraw_idle(self, fraction):
            amount = int(min(market.assets_of(lender), market.cash()) * fraction)
            if amount == 0:
                return
            market.withdraw(amount, sender=lender)  # must work in every state
            self.net_supply -= amount

        # ------------------------------------------------------------ borrowers

        @rule(i=st.integers(0, 1), amount=st.integers(min_value=1, max_value=20_000))
        def deposit_collateral(self, i, amount):
            who = borrowers[i]
            usde.mint_for_testing(who, amount * COLL, sender=who)
            before = market.collateral_of(who)
            market.deposit_collateral(who, amount * COLL, sender=who)  # must always work
            assert market.collateral_of(who) == before + amount * COLL

        @rule(i=st.integers(0, 1), fraction=st.floats(min_value=0.05, max_value=0.95))
        def borrow(self, i, fraction):
            who = borrowers[i]
            room = int(market.collateral_of(who) * self.price * 7 // 10 // 10**12) - market.debt_of(who)
            amount = int(min(room, market.cash()) * fraction)
            if amount <= 0:
                return
            shares_before = market.total_debt_shares()
            if self.state() != NORMAL:
                with ape.reverts("LendingMarket: borrowing blocked by the breaker"):
                    market.borrow(amount, sender=who)
                event("borrow: blocked")
                assert market.total_debt_shares() == shares_before
                return
            try:
                market.borrow(amount, sender=who)
                self.rounding += 1
            except ContractLogicError as err:
                assert "ReferenceOracle: below quorum" in str(err) or "above max ltv" in str(err), err

        @rule(i=st.integers(0, 1), fraction=st.floats(min_value=0.05, max_value=1.0))
        def repay(self, i, fraction):
            who = borrowers[i]
            debt = market.debt_of(who)
            if debt == 0:
                return
            usdc.mint_for_testing(who, debt + USDC, sender=who)
            amount = MAX if fraction > 0.9 else max(int(debt * fraction), USDC)
            market.repay(who, amount, sender=who)  # must always work
            event(f"repay: in state {self.state()}")
            self.rounding += 1
            if amount == MAX:
                assert market.debt_of(who) == 0

        @rule(i=st.integers(0, 1), fraction=st.floats(min_value=0.05, max_value=1.0))
        def withdraw_collateral(self, i, fraction):
            who = borrowers[i]
            amount = int(market.collateral_of(who) * fraction)
            if amount == 0:
                return
            if market.positions(who).debt_shares == 0:
                market.withdraw_collateral(amount, sender=who)  # no debt: always works
                return
            if self.state() != NORMAL:
                with ape.reverts("LendingMarket: collateral withdrawal blocked by the breaker"):
                    market.withdraw_collateral(amount, sender=who)
                return
            try:
                market.withdraw_collateral(amount, sender=who)
            except ContractLogicError as err:
                assert "ReferenceOracle: below quorum" in str(err) or "above max ltv" in str(err), err

        # ------------------------------------------------------------ liquidator

        @rule(
            i=st.integers(0, 1),
            crash=st.one_of(st.none(), st.decimals(min_value="0.40", max_value="0.85", places=2)),
        )
        def liquidate(self, i, crash):
            """Tries to liquidate, after moving the price down to `crash` when one is drawn."""
            if crash is not None:
                self.set_price(crash)
            who = borrowers[i]
            if market.positions(who).debt_shares == 0:
                return
            usdc.mint_for_testing(liquidator, market.debt_of(who) + USDC, sender=liquidator)
            if self.state() != NORMAL:
                with ape.reverts("LendingMarket: liquidations frozen by the breaker"):
                    market.liquidate(who, MAX, sender=liquidator)
                event("liquidate: frozen")
                return
            in_grace, past_grace = self.grace()
            if in_grace:
                with ape.reverts("LendingMarket: liquidation grace period"):
                    market.liquidate(who, MAX, sender=liquidator)
                event("liquidate: grace")
                return
            if not past_grace:
                return  # too close to the edge to say which block it lands in
            assets_before = market.total_assets()
            try:
                price = market.collateral_price()
            except ContractLogicError:
                price = 0  # oracle invalid: the liquidation must revert below
            collateral, debt = market.collateral_of(who), market.debt_of(who)
            health_before = market.health_factor(who) if price else 0
            solvent = price and collateral * price // COLL * 10_000 >= debt * 10**12 * (10_000 + BONUS_BPS)
            try:
                receipt = market.liquidate(who, MAX, sender=liquidator)
            except ContractLogicError as err:
                assert any(reason in str(err) for reason in REFUSALS), err
                event("liquidate: refused, healthy or oracle invalid")
                return
            event("liquidate: done")
            self.rounding += 1
            assert price, "a liquidation went through with an invalid oracle"
            assert health_before < WAD
            # Repaid debt arrives as cash one for one; only debt with no collateral left behind
            # it is written off, and only from a position already insolvent beyond the bonus.
            bad_debt = sum(e.amount for e in receipt.events.filter(market.BadDebtRealized))
            assert market.total_assets() + bad_debt >= assets_before - 1
            if solvent:
                assert bad_debt == 0
                assert market.health_factor(who) >= health_before * (1 - 1e-9)

        # ------------------------------------------------------------ invariants

        @invariant()
        def borrows_within_supply_and_interest(self):
            stored_borrows = market.total_debt_shares() * market.borrow_index() // WAD
            assert stored_borrows <= self.net_supply + market.interest_accrued() + self.rounding

        @invariant()
        def books_match_balances(self):
            assert usdc.balanceOf(market) == market.cash()
            assert usde.balanceOf(market) == sum(market.collateral_of(b) for b in borrowers)

        @invariant()
        def cache_follows_the_breaker(self):
            assert market.breaker_state() == breaker.status(market_id).state

    run_state_machine_as_test(
        LendingMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
