"""Venue adapters for pools we do not control: Uniswap V2 (closed form) and Curve (search)."""

import math

import ape
import pytest
from ape import chain

from devchain.npm import npm_container

WAD = 10**18


@pytest.fixture(scope="module")
def tokens(project, deployer):
    collateral = project.FaucetToken.deploy("Collateral", "COL", 18, sender=deployer)
    debt = project.FaucetToken.deploy("Debt", "DEBT", 6, sender=deployer)
    return collateral, debt


@pytest.fixture(scope="module")
def pair(tokens, deployer):
    collateral, debt = tokens
    factory = deployer.deploy(
        npm_container("@uniswap/v2-core/build/UniswapV2Factory.json", "UniswapV2Factory"), deployer.address
    )
    factory.createPair(collateral, debt, sender=deployer)
    pair_type = npm_container("@uniswap/v2-core/build/UniswapV2Pair.json", "UniswapV2Pair").contract_type
    pair = chain.contracts.instance_at(factory.getPair(collateral, debt), contract_type=pair_type)
    collateral.faucet(pair.address, 1_000_000 * WAD, sender=deployer)  # 1M collateral
    debt.faucet(pair.address, 2_000_000 * 10**6, sender=deployer)  # 2M debt: price 2.0
    pair.mint(deployer.address, sender=deployer)
    return pair


def test_uniswap_v2_venue__spot_depth_exec_closed_form(project, pair, tokens, deployer):
    collateral, _ = tokens
    venue = project.UniswapV2Venue.deploy(pair, collateral, sender=deployer)
    assert venue.spot_price() == 2 * WAD
    y = 2_000_000 * WAD
    assert venue.depth(100) == pytest.approx(y * (1 - math.sqrt(0.99)), rel=1e-9)
    # a sell of 1M debt worth (500k collateral) into 1M/2M reserves, 0.3% fee
    dx = 500_000
    expected = 2_000_000 * dx * 0.997 / (1_000_000 + dx * 0.997) / dx
    assert venue.exec_price(1_000_000 * WAD) == pytest.approx(expected * WAD, rel=1e-9)


def test_uniswap_v2_venue__collateral_not_in_pair_reverts(project, pair, deployer):
    stranger = project.FaucetToken.deploy("Other", "OTH", 18, sender=deployer)
    with ape.reverts("UniswapV2Venue: collateral not in pair"):
        project.UniswapV2Venue.deploy(pair, stranger, sender=deployer)


def test_uniswap_v2_venue__band_of_100_percent_reverts(project, pair, tokens, deployer):
    venue = project.UniswapV2Venue.deploy(pair, tokens[0], sender=deployer)
    with ape.reverts("UniswapV2Venue: band must be below 100%"):
        venue.depth(10_000)


def test_curve_venue__spot_depth_exec_against_constant_product(project, tokens, deployer):
    collateral, debt = tokens
    pool = project.MockCurvePool.deploy(
        collateral, debt, 1_000_000 * WAD, 2_000_000 * 10**6, 0, sender=deployer
    )
    venue = project.CurveStableswapVenue.deploy(pool, 0, 1, sender=deployer)
    assert venue.spot_price() == pytest.approx(2 * WAD, rel=1e-5)
    # x*y=k: average price of a sell dx is 2 / (1 + dx / x); it is 0.5% below spot at dx = x * 0.005 / 0.995,
    # where the marginal price is 1% below spot to first order: the adapter's definition of depth.
    dx = 1_000_000 * 0.005 / 0.995
    expected_depth = 2_000_000 * dx / (1_000_000 + dx)
    assert venue.depth(100) == pytest.approx(expected_depth * WAD, rel=1e-3)
    assert venue.exec_price(2_000 * WAD) == pytest.approx(2 * WAD / (1 + 1_000 / 1_000_000), rel=1e-5)
    assert venue.ema_price() == WAD


def test_curve_venue__same_indices_revert(project, tokens, deployer):
    pool = project.MockCurvePool.deploy(tokens[0], tokens[1], WAD, 10**6, 0, sender=deployer)
    with ape.reverts("CurveStableswapVenue: bad coin indices"):
        project.CurveStableswapVenue.deploy(pool, 0, 0, sender=deployer)


def test_curve_venue__empty_pool_reverts(project, tokens, deployer):
    pool = project.MockCurvePool.deploy(tokens[0], tokens[1], WAD, 0, 0, sender=deployer)
    venue = project.CurveStableswapVenue.deploy(pool, 0, 1, sender=deployer)
    with ape.reverts("CurveStableswapVenue: pool quotes zero"):
        venue.spot_price()


def test_uniswap_v2_venue__settled_views_read_the_reserves_a_previous_block_left(
    project, pair, tokens, deployer
):
    venue = project.UniswapV2Venue.deploy(pair, tokens[0], sender=deployer)
    chain.pending_timestamp += 12
    chain.mine()
    assert venue.settled_spot_price() == venue.spot_price() == 2 * WAD
    assert venue.settled_depth(100) == venue.depth(100)
    assert venue.settled_range(0) == (2 * WAD, 2 * WAD, False)  # no history: this block's start only


def test_uniswap_v2_venue__settled_views_revert_once_the_pair_changed_in_the_block(
    project, pair, tokens, deployer
):
    """The opening reserves of a block the pair already traded in are gone: never read the
    reserves a transaction earlier in the block left (a flash loan's)."""
    venue = project.UniswapV2Venue.deploy(pair, tokens[0], sender=deployer)
    chain.pending_timestamp += 12
    tokens[1].faucet(pair.address, 2_000_000 * 10**6, sender=deployer)
    pair.sync(sender=deployer)  # the views below run in this block: the pair changed in it
    assert venue.spot_price() == 4 * WAD
    for view, args in (
        (venue.settled_spot_price, ()),
        (venue.settled_depth, (100,)),
        (venue.settled_range, (0,)),
    ):
        with ape.reverts("UniswapV2Venue: pair changed in this block, settled state unknown"):
            view(*args)


def test_curve_venue__settled_price_is_the_pool_ema(project, tokens, deployer):
    collateral, debt = tokens
    pool = project.MockCurvePool.deploy(
        collateral, debt, 1_000_000 * WAD, 2_000_000 * 10**6, 0, sender=deployer
    )
    venue = project.CurveStableswapVenue.deploy(pool, 0, 1, sender=deployer)
    pool.set_ema(WAD // 2, sender=deployer)  # coin 1 at 0.5 coin 0: the collateral (coin 0) at 2.0
    assert venue.settled_spot_price() == 2 * WAD
    assert venue.settled_range(0) == (2 * WAD, 2 * WAD, True)
    pool.set_balances(1_000_000 * WAD, 1_000_000 * 10**6, sender=deployer)  # the spot moves, the EMA does not
    assert venue.settled_spot_price() == 2 * WAD


def test_curve_venue__settled_depth_takes_in_block_liquidity_back_out(project, tokens, deployer):
    """Liquidity added inside the block raises D and depth alike; D_oracle has not seen it."""
    collateral, debt = tokens
    pool = project.MockCurvePool.deploy(
        collateral, debt, 1_000_000 * WAD, 2_000_000 * 10**6, 0, sender=deployer
    )
    venue = project.CurveStableswapVenue.deploy(pool, 0, 1, sender=deployer)
    calm = venue.depth(100)
    assert venue.settled_depth(100) == calm
    pool.set_balances(9_000_000 * WAD, 18_000_000 * 10**6, sender=deployer)
    pool.set_invariants(9 * 10**24, 10**24, sender=deployer)
    assert venue.settled_depth(100) == pytest.approx(calm, rel=1e-3)
