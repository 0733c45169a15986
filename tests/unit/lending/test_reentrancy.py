"""A collateral token that calls back on transfer cannot re-enter the lending market: every
state-changing function holds the same lock, so the hook is refused while the outer call completes."""

import pytest
from ape.utils import ZERO_ADDRESS
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from tests.unit.lending.conftest import COLL, MAX, PRICE_ORACLE, THRESHOLD_BPS, lending_params


def calldata(signature: str, *args) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    encoded = encode(types.split(","), list(args)) if types else b""
    return function_signature_to_4byte_selector(signature) + encoded


def reentries(borrower: str) -> dict[str, bytes]:
    """Calls the token makes back into the market; each would carry a reason string if it got past the
    lock."""
    return {
        "withdraw_collateral": calldata("withdraw_collateral(uint256)", 1),
        "deposit_collateral": calldata("deposit_collateral(address,uint256)", borrower, 1),
        "borrow": calldata("borrow(uint256)", 1),
        "repay": calldata("repay(address,uint256)", borrower, 1),
        "liquidate": calldata("liquidate(address,uint256)", borrower, 1),
        "supply": calldata("supply(uint256)", 1),
        "withdraw": calldata("withdraw(uint256)", 1),
        "redeem": calldata("redeem(uint256)", 1),
        "on_breaker_state": calldata("on_breaker_state(uint256,uint256,uint256)", 0, 1, 0),
        "set_param": calldata("set_param(uint256,uint256)", 0, 7_000),
    }


ENTRIES = sorted(reentries(ZERO_ADDRESS))


@pytest.fixture
def hook_token(project, deployer):
    return project.ReentrantToken.deploy(18, sender=deployer)


@pytest.fixture
def hook_market(project, governance, borrow_token, hook_token, oracle, borrower, deployer):
    market = project.LendingMarket.deploy(
        borrow_token,
        hook_token,
        PRICE_ORACLE,
        oracle,
        ZERO_ADDRESS,
        0,
        THRESHOLD_BPS,
        lending_params(),
        sender=governance,
    )
    hook_token.mint(borrower, 10_000 * COLL, sender=deployer)
    hook_token.approve(market, MAX, sender=borrower)
    return market


def _locked(hook_token) -> bool:
    """The hook fired once and was refused by the lock (no revert data; every other refusal of the
    market carries a reason string)."""
    return (
        hook_token.hook_fired() == 1
        and not hook_token.hook_succeeded()
        and hook_token.hook_returndata() == b""
    )


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.threat
def test_deposit_collateral__token_reentry_refused(hook_market, hook_token, borrower, deployer, entry):
    hook_token.arm(hook_market, reentries(borrower.address)[entry], sender=deployer)
    hook_market.deposit_collateral(borrower, 1_000 * COLL, sender=borrower)
    assert _locked(hook_token)
    assert hook_market.collateral_of(borrower) == 1_000 * COLL


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.threat
def test_withdraw_collateral__token_reentry_refused(hook_market, hook_token, borrower, deployer, entry):
    hook_market.deposit_collateral(borrower, 1_000 * COLL, sender=borrower)
    hook_token.arm(hook_market, reentries(borrower.address)[entry], sender=deployer)
    hook_market.withdraw_collateral(400 * COLL, sender=borrower)
    assert _locked(hook_token)
    assert (
        hook_market.collateral_of(borrower) == 600 * COLL and hook_token.balanceOf(borrower) == 9_400 * COLL
    )


def test_hook__outside_a_market_call_reaches_the_market(
    hook_market, hook_token, borrower, deployer, borrow_token
):
    """Control: the same hook fired by a plain transfer gets the market's own reason, not the lock's."""
    hook_token.arm(hook_market, reentries(borrower.address)["borrow"], sender=deployer)
    hook_token.transfer(borrower, 1, sender=borrower)
    assert hook_token.hook_fired() == 1 and not hook_token.hook_succeeded()
    assert b"LendingMarket: " in hook_token.hook_returndata()
    assert borrow_token.balanceOf(hook_market) == 0
