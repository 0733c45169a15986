"""A collateral token that calls back on transfer cannot re-enter the pool, not even its views."""

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from tests.unit.pool.conftest import COL, DEADLINE, PRICE, SEED_COL, USD, WAD


def calldata(signature: str, *args) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    encoded = encode(types.split(","), list(args)) if types else b""
    return function_signature_to_4byte_selector(signature) + encoded


REENTRIES = {
    "swap": calldata("swap(bool,uint256,uint256,uint256)", True, 10**15, 0, DEADLINE),
    "add_liquidity": calldata(
        "add_liquidity(uint256,uint256,uint256,uint256)", COL, PRICE * USD, 0, DEADLINE
    ),
    "remove_liquidity": calldata("remove_liquidity(uint256,uint256,uint256)", 1, 0, 0),
    "refresh_band": calldata("refresh_band()"),
    "on_breaker_state": calldata("on_breaker_state(uint256,uint256,uint256)", 0, 1, 0),
    "set_fee_bps": calldata("set_fee_bps(uint256)", 0),
    "spot_price": calldata("spot_price()"),
    "depth": calldata("depth(uint256)", 100),
    "exec_price": calldata("exec_price(uint256)", 10**18),
    "get_amount_out": calldata("get_amount_out(bool,uint256)", True, 10**18),
}


@pytest.fixture
def hook_token(project, deployer):
    return project.ReentrantToken.deploy(18, sender=deployer)


@pytest.fixture
def hook_pool(create_pool, hook_token, debt, fund, lp, trader, deployer):
    pool = create_pool(collateral=hook_token)
    for account in (lp, trader):
        hook_token.mint(account, 10 * SEED_COL * COL, sender=deployer)
        hook_token.approve(pool, 2**256 - 1, sender=account)
        fund(account, pool, (debt, 10 * SEED_COL * PRICE * USD))
    pool.add_liquidity(SEED_COL * COL, SEED_COL * PRICE * USD, 0, DEADLINE, sender=lp)
    pool.refresh_band(sender=trader)
    # The hook re-enters from the token, so the token needs pool shares and allowances to try.
    pool.transfer(hook_token, 10**9, sender=lp)
    return pool


def _locked(hook_token) -> bool:
    """The hook fired once and was refused by the lock (Vyper's lock reverts with no data;
    every other refusal of the pool carries a reason string)."""
    return (
        hook_token.hook_fired() == 1
        and not hook_token.hook_succeeded()
        and hook_token.hook_returndata() == b""
    )


@pytest.mark.parametrize("entry", sorted(REENTRIES))
@pytest.mark.threat
def test_swap__token_reentry_refused(hook_pool, hook_token, trader, entry, debt):
    hook_token.arm(hook_pool, REENTRIES[entry], sender=trader)
    x, y = hook_pool.reserves()

    out = hook_pool.swap(True, COL, 0, DEADLINE, sender=trader).return_value

    assert _locked(hook_token)
    assert hook_pool.reserves() == (x + COL, y - out)
    assert hook_token.balanceOf(hook_pool) == x + COL
    assert debt.balanceOf(hook_pool) == y - out


@pytest.mark.parametrize("entry", ["swap", "remove_liquidity", "spot_price"])
@pytest.mark.threat
def test_remove_liquidity__token_reentry_refused(hook_pool, hook_token, lp, entry):
    hook_token.arm(hook_pool, REENTRIES[entry], sender=lp)
    hook_pool.remove_liquidity(hook_pool.balanceOf(lp) // 2, 0, 0, sender=lp)
    assert _locked(hook_token)
    assert hook_token.balanceOf(hook_pool) == hook_pool.reserves()[0]


@pytest.mark.threat
def test_add_liquidity__token_reentry_refused(hook_pool, hook_token, lp):
    hook_token.arm(hook_pool, REENTRIES["swap"], sender=lp)
    hook_pool.add_liquidity(COL, PRICE * USD, 0, DEADLINE, sender=lp)
    assert _locked(hook_token)


def test_hook__outside_pool_call_succeeds(hook_pool, hook_token, trader, lp):
    """Control: the same hook reaches the pool when no pool function is running."""
    hook_token.arm(hook_pool, REENTRIES["spot_price"], sender=trader)
    hook_token.transfer(lp, 1, sender=trader)
    assert hook_token.hook_fired() == 1 and hook_token.hook_succeeded()
    assert int.from_bytes(hook_token.hook_returndata(), "big") == PRICE * WAD
