"""A real Uniswap v4 PoolManager (compiled from the npm sources), its own test routers, and a
collateral/debt pool guarded by BreakerHookV4 as a consumer of a real CircuitBreaker market."""

from __future__ import annotations

import pytest
from eth_abi import decode

from deployment.uniswap_v4 import deploy_pool_manager, launch_guarded_pool
from devchain.solc import V4_CORE, container

COL = 10**18  # one collateral unit (18 decimals)
USD = 10**6  # one debt unit (6 decimals)
WAD = 10**18
FEE_PIPS, TICK_SPACING = 500, 10
BAND_BPS, REFRESH_S, MAX_AGE_S = 500, 60, 900
FULL_RANGE = (-887_270, 887_270)  # TickMath's range rounded in to the tick spacing
LIQUIDITY = 10**18  # about a million of each token at a price of 1
MIN_SQRT_PRICE, MAX_SQRT_PRICE = (
    4_295_128_739,
    1_461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_342,
)
NO_CLAIMS = (False, False)  # PoolSwapTest.TestSettings: take and settle ERC-20s, not ERC-6909 claims

# Selectors of the PoolManager's errors a hook revert arrives wrapped in.
WRAPPED_ERROR = bytes.fromhex("90bfb865")  # CustomRevert.WrappedError(address,bytes4,bytes,bytes)
ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)


def hook_reason(err) -> str:
    """The hook's revert string inside the PoolManager's WrappedError (from the raw revert data)."""
    data = getattr(err.value.base_err, "data", None)
    if isinstance(data, dict):  # some providers nest it
        data = data.get("data")
    assert isinstance(data, str | bytes) and data, f"no revert data on {err.value!r}"
    return _unwrap(bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data)


def _unwrap(data: bytes) -> str:
    if data[:4] == WRAPPED_ERROR:
        _, _, reason, _ = decode(["address", "bytes4", "bytes", "bytes"], data[4:])
        return _unwrap(reason)
    if data[:4] == ERROR_STRING:
        return decode(["string"], data[4:])[0]
    return "0x" + data.hex()


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def collateral(project, deployer):
    return project.MockERC20.deploy("Mock USDe", "USDe", 18, sender=deployer)


@pytest.fixture(scope="session")
def debt(project, deployer):
    return project.MockERC20.deploy("Mock USDC", "USDC", 6, sender=deployer)


@pytest.fixture(scope="session")
def pool_manager(deployer):
    return deploy_pool_manager(deployer, deployer)


@pytest.fixture(scope="session")
def swap_router(pool_manager, deployer):
    return container(V4_CORE, "PoolSwapTest").deploy(pool_manager, sender=deployer)


@pytest.fixture(scope="session")
def lp_router(pool_manager, deployer):
    return container(V4_CORE, "PoolModifyLiquidityTest").deploy(pool_manager, sender=deployer)


@pytest.fixture(scope="session")
def v4_market(
    project,
    chain,
    breaker,
    market_id,
    oracle,
    pool_manager,
    collateral,
    debt,
    deployer,
    governance,
    swap_router,
    lp_router,
    lp,
    trader,
):
    """The guarded pool, seeded by the lp with full-range liquidity; the trader holds both tokens."""
    launched = launch_guarded_pool(
        project,
        chain,
        pool_manager=pool_manager,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        collateral=collateral,
        debt=debt,
        fee_pips=FEE_PIPS,
        tick_spacing=TICK_SPACING,
        band_bps=BAND_BPS,
        band_refresh_s=REFRESH_S,
        band_max_age_s=MAX_AGE_S,
        owner=governance.address,
        governance=governance,
        sender=deployer,
    )
    for account, router in ((lp, lp_router), (trader, swap_router)):
        collateral.mint(account, 10_000_000 * COL, sender=deployer)
        debt.mint(account, 10_000_000 * USD, sender=deployer)
        collateral.approve(router, 2**256 - 1, sender=account)
        debt.approve(router, 2**256 - 1, sender=account)
    lp_router.modifyLiquidity(launched.pool_key, (*FULL_RANGE, LIQUIDITY, b"\x00" * 32), b"", sender=lp)
    return launched


@pytest.fixture(scope="session")
def hook(v4_market):
    return v4_market.hook


@pytest.fixture(scope="session")
def pool_key(v4_market):
    return v4_market.pool_key
