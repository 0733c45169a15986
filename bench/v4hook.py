"""Gas of one swap on a real Uniswap v4 PoolManager: a pool guarded by BreakerHookV4 vs the same
kind of pool without a hook.

Both pools trade the same two tokens (MockERC20, collateral 18 decimals, debt 6) on the same
PoolManager (compiled from the npm sources with solc-js), with the same fee (0.05%), tick
spacing (10), price (1.00) and full-range liquidity, and see the same swaps through v4-core's
PoolSwapTest router: the trader sells SWAP_COLLATERAL collateral, then buys it back with the debt
it received, alternately (each transaction in its own block), so both pools stay near the centre.

- hooked: BreakerHookV4 at a mined address (beforeInitialize | beforeSwap | afterSwap), a consumer
  of a CircuitBreaker market in NORMAL, band 5% around a ReferenceOracle with one MockAggregator
  feed, centre fresh (re-read once by a warm-up swap, not measured).
- plain: hooks = address(0).

One warm-up sell and buy on each pool first, so no measured swap pays a first write of fee growth
or of a balance. `gas.v4hook.swap_refresh_hooked` is the hooked swap that re-reads the reference
(once per refresh interval, 60 s here), reported apart.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from deployment.uniswap_v4 import deploy_pool_manager, launch_guarded_pool
from devchain.solc import V4_CORE, container
from keeper import params as P

SWAPS = 8  # measured swaps per pool: 4 sells and 4 buys (>= 5 whole transactions each kind together)
SWAP_COLLATERAL = 1_000 * 10**18
FEE_PIPS, TICK_SPACING = 500, 10
FULL_RANGE = (-887_270, 887_270)
LIQUIDITY = 10**18  # about a million of each token at a price of 1
MIN_SQRT_PRICE, MAX_SQRT_PRICE = (
    4_295_128_739,
    1_461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_342,
)
MAX_UINT = 2**256 - 1
ZERO_ADDRESS = "0x" + "00" * 20


def _swap(router: Any, key: tuple, zero_for_one: bool, amount_in: int, trader: Any) -> Any:
    limit = MIN_SQRT_PRICE + 1 if zero_for_one else MAX_SQRT_PRICE - 1
    return router.swap(key, (zero_for_one, -amount_in, limit), (False, False), b"", sender=trader)


def _round_trips(router: Any, key: tuple, collateral_is_0: bool, debt: Any, trader: Any, n: int) -> list[Any]:
    """Receipts of n swaps alternating a sell of SWAP_COLLATERAL and a buy with what it paid."""
    receipts = []
    for i in range(n):
        if i % 2 == 0:
            debt_before = debt.balanceOf(trader)
            receipt = _swap(router, key, collateral_is_0, SWAP_COLLATERAL, trader)
            bought = debt.balanceOf(trader) - debt_before
        else:
            receipt = _swap(router, key, not collateral_is_0, bought, trader)
        receipts.append(receipt)
    return receipts


def run(project: Any, accounts: Any) -> dict[str, float]:
    """Deploys both pools, measures the swaps, returns the `gas.v4hook.*` keys."""
    from ape import chain

    deployer, trader = accounts[0], accounts[7]
    tx = {"sender": deployer}
    breaker = project.CircuitBreaker.deploy(**tx)
    feed = project.MockAggregator.deploy(8, 10**8, **tx)
    oracle = project.ReferenceOracle.deploy(1, **tx)
    oracle.add_feed(feed.address, 3_600, **tx)
    venue = project.MockVenue.deploy(10**18, 8_000_000 * 10**18, **tx)
    market_id = breaker.register_market(venue, oracle, P.as_array(P.resolve()), **tx).return_value or 0
    collateral = project.MockERC20.deploy("Mock USDe", "USDe", 18, **tx)
    debt = project.MockERC20.deploy("Mock USDC", "USDC", 6, **tx)

    pool_manager = deploy_pool_manager(deployer, deployer)
    swap_router = container(V4_CORE, "PoolSwapTest").deploy(pool_manager, **tx)
    lp_router = container(V4_CORE, "PoolModifyLiquidityTest").deploy(pool_manager, **tx)
    hooked = launch_guarded_pool(
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
        band_bps=500,
        band_refresh_s=60,
        band_max_age_s=900,
        owner=deployer.address,
        governance=deployer,
        sender=deployer,
    )
    plain_key = (*hooked.pool_key[:4], ZERO_ADDRESS)
    pool_manager.initialize(plain_key, hooked.sqrt_price_x96, **tx)

    for token, amount in ((collateral, 10_000_000 * 10**18), (debt, 10_000_000 * 10**6)):
        for account in (deployer, trader):
            token.mint(account, amount, **tx)
            for router in (lp_router, swap_router):
                token.approve(router, MAX_UINT, sender=account)
    for key in (hooked.pool_key, plain_key):
        lp_router.modifyLiquidity(key, (*FULL_RANGE, LIQUIDITY, b"\x00" * 32), b"", **tx)

    assert hooked.hook.breaker_state() == 1, "the hooked pool must be NORMAL for the benchmark"
    collateral_is_0 = hooked.hook.COLLATERAL_IS_CURRENCY0()
    hook = hooked.hook
    for key in (plain_key, hooked.pool_key):
        _round_trips(swap_router, key, collateral_is_0, debt, trader, 2)
    hooked_receipts = _round_trips(swap_router, hooked.pool_key, collateral_is_0, debt, trader, SWAPS)
    plain_receipts = _round_trips(swap_router, plain_key, collateral_is_0, debt, trader, SWAPS)
    assert not any(r.decode_logs(hook.BandRefreshed) for r in hooked_receipts), (
        "a measured swap re-read the band"
    )

    # The swap that re-reads the reference: once per refresh interval.
    chain.pending_timestamp += 61
    refresh = _round_trips(swap_router, hooked.pool_key, collateral_is_0, debt, trader, 1)[0]
    assert refresh.decode_logs(hook.BandRefreshed), (
        "the swap after the refresh interval did not re-read the band"
    )
    plain_sell = _round_trips(swap_router, plain_key, collateral_is_0, debt, trader, 1)[0]

    hooked_median = int(median(int(r.gas_used) for r in hooked_receipts))
    plain_median = int(median(int(r.gas_used) for r in plain_receipts))
    return {
        "gas.v4hook.swap_hooked": hooked_median,
        "gas.v4hook.swap_plain": plain_median,
        "gas.v4hook.swap_hooked_over_plain": round(hooked_median / plain_median, 4),
        "gas.v4hook.swap_refresh_hooked": int(refresh.gas_used),
        "gas.v4hook.swap_refresh_over_plain": round(int(refresh.gas_used) / int(plain_sell.gas_used), 4),
    }
