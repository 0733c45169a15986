"""deployment/uniswap_v4.py: the config a deploy file gives, the salt mining, a launch from config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deployment.uniswap_v4 import (
    ALL_HOOK_MASK,
    CREATE2_DEPLOYER,
    HOOK_FLAGS,
    HookDeployError,
    UniswapV4HookConfig,
    create2_address,
    deploy_from_config,
    mine_salt,
)

COLLATERAL, DEBT = "0x" + "11" * 20, "0x" + "22" * 20


def test_mine_salt__address_carries_exactly_the_flags():
    init_code = b"\x60\x00"
    salt, address = mine_salt(init_code, HOOK_FLAGS)
    assert create2_address(CREATE2_DEPLOYER, salt, init_code) == address
    assert int(address, 16) & ALL_HOOK_MASK == HOOK_FLAGS


def test_mine_salt__bits_outside_the_hook_mask_reverts():
    with pytest.raises(HookDeployError, match="are not hook permission bits"):
        mine_salt(b"\x60\x00", 1 << 14)


def test_config__defaults_are_the_documented_ones():
    config = UniswapV4HookConfig(market="USDe/USDC", collateral=COLLATERAL, debt=DEBT)
    assert (
        config.fee_pips,
        config.tick_spacing,
        config.band_bps,
        config.band_refresh_s,
        config.band_max_age_s,
        config.pool_manager,
        config.initial_price,
    ) == (500, 10, 500, 60, 900, None, None)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("band_bps", 5_001, "less than or equal to 5000"),
        ("fee_pips", 1_000_001, "less than or equal to 1000000"),
        ("band_refresh_s", 1_000, "band_refresh_s (1000) is above band_max_age_s (900)"),
        ("debt", COLLATERAL, "collateral and debt are the same token"),
        ("pool_manager", "0x1234", "not an address"),
    ],
)
def test_config__bad_value_reverts(field, value, reason):
    fields = {"market": "USDe/USDC", "collateral": COLLATERAL, "debt": DEBT, field: value}
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        UniswapV4HookConfig(**fields)


def test_deploy_from_config__launches_a_guarded_pool_on_a_local_chain(
    project, chain, breaker, market_id, oracle, deployer, governance
):
    collateral = project.MockERC20.deploy("Mock USDe", "USDe", 18, sender=deployer)
    debt = project.MockERC20.deploy("Mock USDC", "USDC", 6, sender=deployer)
    config = UniswapV4HookConfig(market="USDe/USDC", collateral=collateral.address, debt=debt.address)
    launched = deploy_from_config(
        project,
        chain,
        config,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        governance=governance,
        sender=deployer,
    )
    hook = launched.hook
    assert int(hook.address, 16) & ALL_HOOK_MASK == HOOK_FLAGS
    assert hook.address in breaker.consumers(market_id)
    assert (hook.owner(), hook.breaker_state(), hook.band().centre) == (governance.address, 1, oracle.price())
    assert tuple(hook.pool_key()) == launched.pool_key
