"""Morpho Blue (the npm sources compiled with solc-js 0.8.19) with a breaker-driven IOracle.

A Morpho Blue market is immutable: no pause, no freeze, its oracle fixed at creation, and
liquidation reads only that oracle. These tests show, on the real Morpho bytecode, what the
two possible oracle behaviours during a halt do when the crash is real:

- serving the frozen price lets a borrower borrow against it, and the reopening leaves the
  lenders with the bad debt;
- reverting while halted closes borrowing (and liquidation, and collateral withdrawal) while
  repay, supplyCollateral and the lenders' withdraw keep working, and the reopening liquidates
  the truly unhealthy position with no borrowing done at the stale price.
"""

from __future__ import annotations

import pytest
from ape.exceptions import ContractLogicError
from eth_abi import encode
from eth_hash.auto import keccak

from devchain.solc import MORPHO_BLUE, container
from keeper import params as P
from tests.helpers import advance

COL, USD, WAD = 10**18, 10**6, 10**18
LLTV = 86 * 10**16
ZERO_ADDRESS = "0x" + "00" * 20
SUPPLY = 1_000_000 * USD
ATTACK_COLLATERAL = 100_000 * COL  # bought at the crashed price of 0.50: 50 000 USDC
ATTACK_BORROW = 85_000 * USD  # within LLTV at the frozen 1.00


@pytest.fixture(scope="session")
def lender(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def borrower(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def liquidator(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def morpho(deployer):
    morpho = container(MORPHO_BLUE, "Morpho").deploy(deployer, sender=deployer)
    morpho.enableIrm(ZERO_ADDRESS, sender=deployer)  # no interest: the loss below is the crash alone
    morpho.enableLltv(LLTV, sender=deployer)
    return morpho


@pytest.fixture(scope="session")
def tokens(project, deployer):
    return (
        project.MockERC20.deploy("Mock USDC", "USDC", 6, sender=deployer),
        project.MockERC20.deploy("Mock USDe", "USDe", 18, sender=deployer),
    )


def open_market(
    project,
    morpho,
    tokens,
    breaker,
    market_id,
    oracle,
    deployer,
    governance,
    lender,
    borrower,
    liquidator,
    fail_closed: bool,
):
    loan, collateral = tokens
    morpho_oracle = project.MockBreakerMorphoOracle.deploy(
        breaker, market_id, oracle, 6, 18, fail_closed, sender=deployer
    )
    breaker.add_consumer(market_id, morpho_oracle, sender=governance)
    params = (loan.address, collateral.address, morpho_oracle.address, ZERO_ADDRESS, LLTV)
    morpho.createMarket(params, sender=deployer)
    for account in (lender, borrower, liquidator):
        loan.mint(account, 10_000_000 * USD, sender=deployer)
        collateral.mint(account, 10_000_000 * COL, sender=deployer)
        loan.approve(morpho, 2**256 - 1, sender=account)
        collateral.approve(morpho, 2**256 - 1, sender=account)
    morpho.supply(params, SUPPLY, 0, lender, b"", sender=lender)
    return params, keccak(encode(["address", "address", "address", "address", "uint256"], list(params)))


def crash_during_halt(breaker, market_id, feed, guardian, deployer):
    breaker.guardian_trip(market_id, sender=guardian)  # frozen at the reference 1.00
    feed.set_answer(50_000_000, sender=deployer)  # the real price halves during the halt


def reopen(breaker, market_id, governance, anyone, feed, deployer):
    breaker.force_resume(market_id, sender=governance)
    advance(P.resolve()["cooldown_s"] + P.resolve()["auction_s"])
    feed.set_answer(50_000_000, sender=deployer)  # a fresh round at the crashed price
    breaker.sync(market_id, sender=anyone)


def test_frozen_price__borrowing_during_a_real_crash_leaves_bad_debt(
    project,
    morpho,
    tokens,
    breaker,
    market_id,
    oracle,
    feed,
    deployer,
    governance,
    guardian,
    anyone,
    lender,
    borrower,
    liquidator,
):
    loan = tokens[0]
    params, mid = open_market(
        project,
        morpho,
        tokens,
        breaker,
        market_id,
        oracle,
        deployer,
        governance,
        lender,
        borrower,
        liquidator,
        fail_closed=False,
    )
    crash_during_halt(breaker, market_id, feed, guardian, deployer)

    # Morpho cannot stop this: the oracle says 1.00, so 85 000 against 100 000 USDe is healthy.
    usd_before = loan.balanceOf(borrower)
    morpho.supplyCollateral(params, ATTACK_COLLATERAL, borrower, b"", sender=borrower)
    morpho.borrow(params, ATTACK_BORROW, 0, borrower, borrower, sender=borrower)
    assert loan.balanceOf(borrower) - usd_before == ATTACK_BORROW

    reopen(breaker, market_id, governance, anyone, feed, deployer)
    morpho.liquidate(params, borrower, ATTACK_COLLATERAL, 0, b"", sender=liquidator)

    supplied, _, borrowed, _, _, _ = morpho.market(mid)
    assert borrowed == 0 and morpho.position(mid, borrower).collateral == 0
    # the seized collateral is worth 50 000 and repays 50 000 / LIF: the rest of 85 000 is written off
    lif = min(115 * WAD // 100, WAD * WAD // (WAD - 3 * (WAD - LLTV) // 10))
    repaid = ATTACK_COLLATERAL * 50 // 100 // 10**12 * WAD // lif
    bad_debt = SUPPLY - supplied
    assert abs(bad_debt - (ATTACK_BORROW - repaid)) <= 2
    assert bad_debt > 35_000 * USD  # the lenders' loss; the borrower kept 85 000 for 50 000 of collateral


def test_fail_closed__halt_blocks_borrowing_but_not_repay_or_exit(
    project,
    morpho,
    tokens,
    breaker,
    market_id,
    oracle,
    feed,
    deployer,
    governance,
    guardian,
    anyone,
    lender,
    borrower,
    liquidator,
):
    loan = tokens[0]
    params, mid = open_market(
        project,
        morpho,
        tokens,
        breaker,
        market_id,
        oracle,
        deployer,
        governance,
        lender,
        borrower,
        liquidator,
        fail_closed=True,
    )
    # a position opened before the halt at 1.00: 85 000 against 100 000 USDe
    morpho.supplyCollateral(params, ATTACK_COLLATERAL, borrower, b"", sender=borrower)
    morpho.borrow(params, ATTACK_BORROW, 0, borrower, borrower, sender=borrower)
    crash_during_halt(breaker, market_id, feed, guardian, deployer)

    for call in (
        lambda: morpho.borrow(params, USD, 0, borrower, borrower, sender=borrower),
        lambda: morpho.withdrawCollateral(params, COL, borrower, borrower, sender=borrower),
        lambda: morpho.liquidate(params, borrower, COL, 0, b"", sender=liquidator),
    ):
        with pytest.raises(ContractLogicError, match="MockBreakerMorphoOracle: market halted"):
            call()
    # what reads no price keeps working: repay, more collateral, the lender's exit
    morpho.repay(params, 5_000 * USD, 0, borrower, b"", sender=borrower)
    morpho.supplyCollateral(params, COL, borrower, b"", sender=borrower)
    usd_before = loan.balanceOf(lender)
    morpho.withdraw(params, 100_000 * USD, 0, lender, lender, sender=lender)
    assert loan.balanceOf(lender) - usd_before == 100_000 * USD

    reopen(breaker, market_id, governance, anyone, feed, deployer)
    # at 0.50 the position (80 000 against 50 000.5 of collateral) is liquidated at the true price
    morpho.liquidate(params, borrower, ATTACK_COLLATERAL + COL, 0, b"", sender=liquidator)
    assert morpho.position(mid, borrower).collateral == 0
    # borrowing is back, at the true price: 1 000 USDe at 0.50 carry at most 430 (440 would pass at 1.00)
    morpho.supplyCollateral(params, 1_000 * COL, borrower, b"", sender=borrower)
    with pytest.raises(ContractLogicError, match="insufficient collateral"):
        morpho.borrow(params, 440 * USD, 0, borrower, borrower, sender=borrower)
    morpho.borrow(params, 430 * USD, 0, borrower, borrower, sender=borrower)
