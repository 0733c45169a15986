"""Bad input to the venue adapters: tokens with more than 18 decimals, bad coin indices, bands of 100%
or more. Each deployment or read reverts with the adapter's reason naming what is wrong."""

import ape
import pytest
from ape import chain

from devchain.npm import npm_container

pytestmark = pytest.mark.bad_input

WAD = 10**18


@pytest.fixture(scope="module")
def factory(deployer):
    return deployer.deploy(
        npm_container("@uniswap/v2-core/build/UniswapV2Factory.json", "UniswapV2Factory"), deployer.address
    )


def make_pair(factory, deployer, collateral, debt):
    factory.createPair(collateral, debt, sender=deployer)
    pair_type = npm_container("@uniswap/v2-core/build/UniswapV2Pair.json", "UniswapV2Pair").contract_type
    return chain.contracts.instance_at(factory.getPair(collateral, debt), contract_type=pair_type)


@pytest.mark.parametrize("decimals", [19, 36, 255])
@pytest.mark.parametrize("side", ["collateral", "debt"])
def test_uniswap_v2_venue__token_with_wrong_decimals_reverts(
    project, factory, deployer, anyone, side, decimals
):
    bad = project.FaucetToken.deploy("Bad", "BAD", decimals, sender=anyone)
    good = project.FaucetToken.deploy("Good", "GOOD", 6, sender=anyone)
    collateral, debt = (bad, good) if side == "collateral" else (good, bad)
    pair = make_pair(factory, deployer, collateral, debt)
    with ape.reverts("UniswapV2Venue: more than 18 decimals"):
        project.UniswapV2Venue.deploy(pair, collateral, sender=deployer)


@pytest.mark.parametrize("band", [10_000, 2**256 - 1])
def test_uniswap_v2_venue__band_of_100_percent_or_more_reverts(project, factory, deployer, anyone, band):
    collateral = project.FaucetToken.deploy("Collateral", "COL", 18, sender=anyone)
    debt = project.FaucetToken.deploy("Debt", "DEBT", 6, sender=anyone)
    pair = make_pair(factory, deployer, collateral, debt)
    collateral.faucet(pair.address, 1_000 * WAD, sender=deployer)
    debt.faucet(pair.address, 2_000 * 10**6, sender=deployer)
    pair.mint(deployer.address, sender=deployer)
    venue = project.UniswapV2Venue.deploy(pair, collateral, sender=deployer)
    with ape.reverts("UniswapV2Venue: band must be below 100%"):
        venue.depth(band)


@pytest.mark.parametrize("decimals", [19, 36, 255])
@pytest.mark.parametrize("side", ["collateral", "debt"])
def test_curve_venue__coin_with_wrong_decimals_reverts(project, deployer, anyone, side, decimals):
    bad = project.FaucetToken.deploy("Bad", "BAD", decimals, sender=anyone)
    good = project.FaucetToken.deploy("Good", "GOOD", 6, sender=anyone)
    coins = (bad, good) if side == "collateral" else (good, bad)
    pool = project.MockCurvePool.deploy(*coins, WAD, 10**6, 0, sender=deployer)
    with ape.reverts("CurveStableswapVenue: more than 18 decimals"):
        project.CurveStableswapVenue.deploy(pool, 0, 1, sender=deployer)


@pytest.mark.parametrize("i, j", [(1, 1), (0, 8), (8, 0), (2**256 - 1, 0)])
def test_curve_venue__bad_coin_indices_revert(project, deployer, anyone, i, j):
    tokens = [project.FaucetToken.deploy(f"T{k}", f"T{k}", 18, sender=anyone) for k in range(2)]
    pool = project.MockCurvePool.deploy(*tokens, WAD, WAD, 0, sender=deployer)
    with ape.reverts("CurveStableswapVenue: bad coin indices"):
        project.CurveStableswapVenue.deploy(pool, i, j, sender=deployer)
