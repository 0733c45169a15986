"""BreakerHookV4's guards: initialization, the breaker push, bad constructor input, refreshes."""

from __future__ import annotations

import pytest
from ape import accounts
from ape.exceptions import ContractLogicError

from deployment.uniswap_v4 import deploy_hook
from tests.integrations.v4.conftest import BAND_BPS, FEE_PIPS, MAX_AGE_S, REFRESH_S, TICK_SPACING, hook_reason

WAD = 10**18


@pytest.fixture(scope="session")
def hook_args(breaker, market_id, oracle, collateral, debt, pool_manager, governance):
    """Constructor arguments by name, for a hook on the shared pool manager and market."""
    return {
        "pool_manager": pool_manager.address,
        "breaker": breaker.address,
        "market_id": market_id,
        "oracle": oracle.address,
        "collateral": collateral.address,
        "debt": debt.address,
        "collateral_decimals": 18,
        "debt_decimals": 6,
        "fee_pips": FEE_PIPS,
        "tick_spacing": TICK_SPACING,
        "band_bps": BAND_BPS,
        "band_refresh_s": REFRESH_S,
        "band_max_age_s": MAX_AGE_S,
        "owner": governance.address,
    }


def test_initialize__price_outside_the_band_reverts(
    project, chain, hook_args, pool_manager, anyone, deployer
):
    hook, _ = deploy_hook(project, chain, **{**hook_args, "tick_spacing": 60}, sender=deployer)
    key = tuple(hook.pool_key())
    with pytest.raises(ContractLogicError) as err:
        pool_manager.initialize(key, hook.sqrt_price_x96_of(110 * WAD // 100), sender=anyone)  # 10% above
    assert hook_reason(err) == "BreakerHookV4: initial price outside the band"
    pool_manager.initialize(key, hook.sqrt_price_x96_of(102 * WAD // 100), sender=anyone)  # 2%: inside


def test_initialize__with_an_invalid_reference_reverts(
    project, chain, hook_args, pool_manager, feed, anyone, deployer
):
    hook, _ = deploy_hook(project, chain, **{**hook_args, "tick_spacing": 60}, sender=deployer)
    feed.set_broken(True, sender=deployer)
    with pytest.raises(ContractLogicError) as err:
        pool_manager.initialize(tuple(hook.pool_key()), hook.sqrt_price_x96_of(WAD), sender=anyone)
    assert hook_reason(err) == "BreakerHookV4: reference price invalid"


def test_new_hook__stays_halted_until_the_breaker_pushes(
    project, chain, hook_args, breaker, market_id, governance, deployer
):
    hook, _ = deploy_hook(project, chain, **{**hook_args, "tick_spacing": 60}, sender=deployer)
    assert hook.breaker_state() == 2
    tx = breaker.add_consumer(market_id, hook, sender=governance)
    assert hook.breaker_state() == 1
    assert [(e.old_state, e.new_state) for e in tx.decode_logs(hook.BreakerStateChanged)] == [(2, 1)]


def test_on_breaker_state__wrong_market_or_unknown_state_reverts(hook, breaker, market_id, chain):
    # the hook trusts only the breaker: speak as it (anvil impersonation) to reach the other checks
    chain.provider.set_balance(breaker.address, 10**18)
    as_breaker = accounts[breaker.address]
    with pytest.raises(ContractLogicError, match="BreakerHookV4: wrong market"):
        hook.on_breaker_state(market_id + 1, 1, 0, sender=as_breaker)
    with pytest.raises(ContractLogicError, match="BreakerHookV4: unknown breaker state"):
        hook.on_breaker_state(market_id, 3, 0, sender=as_breaker)


def test_refresh_band__with_an_invalid_reference_reverts(hook, feed, deployer, anyone):
    feed.set_broken(True, sender=deployer)
    with pytest.raises(ContractLogicError, match="BreakerHookV4: reference price invalid"):
        hook.refresh_band(sender=anyone)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("band_bps", 5_001, "band width out of bounds"),
        ("band_refresh_s", 11, "band refresh out of bounds"),
        ("band_max_age_s", 86_401, "band max age out of bounds"),
        ("fee_pips", 0x800000, "fee above 100% or dynamic"),
        ("tick_spacing", 0, "tick spacing out of range"),
        ("collateral_decimals", 19, "token decimals above 18"),
    ],
)
def test_constructor__bad_input_reverts(field, value, reason, project, hook_args, deployer):
    with pytest.raises(ContractLogicError, match=f"BreakerHookV4: {reason}"):
        project.BreakerHookV4.deploy(*{**hook_args, field: value}.values(), sender=deployer)
