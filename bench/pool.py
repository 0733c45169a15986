"""Gas of one swap: GuardedPool guarded vs unguarded vs Uniswap V2 through its router.

All three venues trade the same two tokens (MockERC20, collateral 18 decimals, debt 6), hold
the same reserves, and see the same swap: the trader sells SWAP_COLLATERAL collateral for the
debt asset, minimum output 0, five times in a row (each transaction in its own block).

- guarded: GuardedPool attached to a CircuitBreaker market (the pool is the market's venue and
  a consumer), price band on around a ReferenceOracle with one MockAggregator feed, centre
  fresh, state NORMAL.
- unguarded: the same GuardedPool bytecode with no breaker and no oracle.
- univ2_router: UniswapV2Factory + pair + UniswapV2Router02 from the npm build artifacts
  (`@uniswap/v2-core`, `@uniswap/v2-periphery`), `swapExactTokensForTokens` with a one-hop path.

The trader holds both tokens and has approved every venue for the maximum before measuring, so
no transaction pays a zero-to-nonzero balance or allowance write.
"""

from __future__ import annotations

from typing import Any

from bench import median_gas
from deployment.pool import NO_DEADLINE, deploy_pool
from devchain.npm import npm_container

PRICE = 2_000  # debt per collateral
LIQUIDITY_COLLATERAL = 10_000  # whole collateral units in each venue
SWAP_COLLATERAL = 10**18  # one collateral unit per swap (0.01% of the reserve)
MAX_UINT = 2**256 - 1
CORE = "@uniswap/v2-core/build"
PERIPHERY = "@uniswap/v2-periphery/build"


def _deploy_univ2(deployer: Any, collateral: Any, debt: Any) -> tuple[Any, Any]:
    from ape import chain

    factory_type = npm_container(f"{CORE}/UniswapV2Factory.json", "UniswapV2Factory")
    pair_type = npm_container(f"{CORE}/UniswapV2Pair.json", "UniswapV2Pair")
    router_type = npm_container(f"{PERIPHERY}/UniswapV2Router02.json", "UniswapV2Router02")
    factory = deployer.deploy(factory_type, deployer.address)
    factory.createPair(collateral.address, debt.address, sender=deployer)
    pair = chain.contracts.instance_at(
        factory.getPair(collateral.address, debt.address), contract_type=pair_type.contract_type
    )
    # The router only needs WETH for the ETH entry points, which the benchmark never calls.
    router = deployer.deploy(router_type, factory.address, collateral.address)
    return pair, router


def _seed_univ2(pair: Any, deployer: Any, collateral: Any, debt: Any) -> None:
    amount_collateral = LIQUIDITY_COLLATERAL * 10 ** collateral.decimals()
    amount_debt = LIQUIDITY_COLLATERAL * PRICE * 10 ** debt.decimals()
    collateral.mint(pair.address, amount_collateral, sender=deployer)
    debt.mint(pair.address, amount_debt, sender=deployer)
    pair.mint(deployer.address, sender=deployer)


def run(project: Any, accounts: Any) -> dict[str, float]:
    """Deploys the three venues, measures the swap on each, returns the `gas.pool.*` keys."""
    deployer, trader = accounts[0], accounts[7]
    tx = {"sender": deployer}

    breaker = project.CircuitBreaker.deploy(**tx)
    feed = project.MockAggregator.deploy(8, PRICE * 10**8, **tx)
    oracle = project.ReferenceOracle.deploy(1, **tx)
    oracle.add_feed(feed.address, 3_600, **tx)

    guarded = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=deployer,
        liquidity_collateral=LIQUIDITY_COLLATERAL,
        price=PRICE,
    )
    collateral, debt = guarded.collateral, guarded.debt
    unguarded = deploy_pool(
        project,
        deployer,
        None,
        None,
        None,
        governance=deployer,
        collateral=collateral,
        debt=debt,
        liquidity_collateral=LIQUIDITY_COLLATERAL,
        price=PRICE,
    )
    pair, router = _deploy_univ2(deployer, collateral, debt)
    _seed_univ2(pair, deployer, collateral, debt)

    collateral.mint(trader.address, 100 * SWAP_COLLATERAL, **tx)
    debt.mint(trader.address, 10**6, **tx)
    for spender in (guarded.pool, unguarded.pool, router):
        collateral.approve(spender.address, MAX_UINT, sender=trader)
        debt.approve(spender.address, MAX_UINT, sender=trader)
    assert guarded.pool.breaker_state() == 1, "guarded pool must be NORMAL for the benchmark"
    guarded.pool.refresh_band(sender=trader)  # the band centre is fresh for every measured swap

    gas_guarded = median_gas(
        lambda _: guarded.pool.swap(True, SWAP_COLLATERAL, 0, NO_DEADLINE, sender=trader)
    )
    gas_unguarded = median_gas(
        lambda _: unguarded.pool.swap(True, SWAP_COLLATERAL, 0, NO_DEADLINE, sender=trader)
    )
    path = [collateral.address, debt.address]
    gas_router = median_gas(
        lambda _: router.swapExactTokensForTokens(
            SWAP_COLLATERAL, 0, path, trader.address, NO_DEADLINE, sender=trader
        )
    )
    return {
        "gas.pool.swap_guarded": gas_guarded,
        "gas.pool.swap_unguarded": gas_unguarded,
        "gas.pool.swap_univ2_router": gas_router,
        "gas.pool.guarded_over_unguarded": round(gas_guarded / gas_unguarded, 4),
        "gas.pool.guarded_over_univ2_router": round(gas_guarded / gas_router, 4),
    }
