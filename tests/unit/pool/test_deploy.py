"""Constructor checks and `deployment.pool.deploy_pool`."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from deployment.pool import deploy_pool
from tests.constants import HALTED, NORMAL
from tests.unit.pool.conftest import BAND_BPS, FEE_BPS, MAX_AGE_S, PRICE, REFRESH_S, WAD


def test_constructor__immutables_and_parameters(
    create_pool, breaker, market_id, pool_oracle, collateral, debt, governance
):
    pool = create_pool()
    assert (pool.COLLATERAL(), pool.DEBT()) == (collateral.address, debt.address)
    assert (pool.COLLATERAL_SCALE(), pool.DEBT_SCALE()) == (1, 10**12)
    assert (pool.BREAKER(), pool.MARKET_ID(), pool.ORACLE()) == (
        breaker.address,
        market_id,
        pool_oracle.address,
    )
    assert (pool.fee_bps(), pool.breaker_state(), pool.owner()) == (FEE_BPS, NORMAL, governance)
    band = pool.band()
    assert (band.centre, band.updated_at, band.width_bps, band.refresh_s, band.max_age_s) == (
        0,
        0,
        BAND_BPS,
        REFRESH_S,
        MAX_AGE_S,
    )


def test_constructor__logs_parameters(create_pool, deployer):
    pool = create_pool()
    receipt = pool.creation_metadata.receipt
    assert receipt.decode_logs(pool.FeeSet) == [pool.FeeSet(actor=deployer, old=0, new=FEE_BPS)]
    assert receipt.decode_logs(pool.BandWidthSet) == [pool.BandWidthSet(actor=deployer, old=0, new=BAND_BPS)]
    [timing] = receipt.decode_logs(pool.BandTimingSet)
    assert (timing.new_refresh_s, timing.new_max_age_s) == (REFRESH_S, MAX_AGE_S)


@pytest.mark.parametrize(
    "overrides,reason",
    [
        ({"fee_bps": 101}, "GuardedPool: fee out of bounds"),
        ({"band_bps": 9}, "GuardedPool: band width out of bounds"),
        ({"band_bps": 5_001}, "GuardedPool: band width out of bounds"),
        ({"band_refresh_s": 11}, "GuardedPool: band refresh out of bounds"),
        ({"band_max_age_s": 86_401}, "GuardedPool: band max age out of bounds"),
        ({"band_refresh_s": 600, "band_max_age_s": 300}, "GuardedPool: band max age below refresh"),
        ({"owner": ZERO_ADDRESS}, "GuardedPool: owner is the zero address"),
    ],
)
@pytest.mark.bad_input
def test_constructor__bad_parameter_reverts(create_pool, overrides, reason):
    with ape.reverts(reason):
        create_pool(**overrides)


def test_constructor__identical_tokens_reverts(create_pool, collateral):
    with ape.reverts("GuardedPool: identical tokens"):
        create_pool(debt=collateral)


def test_constructor__token_not_a_contract_reverts(create_pool, anyone):
    with ape.reverts("GuardedPool: token is not a contract"):
        create_pool(collateral=anyone)


@pytest.mark.bad_input
def test_constructor__decimals_above_18_reverts(project, create_pool, anyone):
    # Deployed by another account: ape caches contract types by address, and a reverted
    # deployment at a reused deployer nonce would be decoded with this token's ABI.
    token = project.MockERC20.deploy("Mock C19", "C19", 19, sender=anyone)
    with ape.reverts("GuardedPool: token decimals above 18"):
        create_pool(collateral=token)


def test_constructor__breaker_not_a_contract_reverts(create_pool, anyone):
    with ape.reverts("GuardedPool: breaker is not a contract"):
        create_pool(breaker=anyone)


def test_constructor__oracle_not_a_contract_reverts(create_pool, anyone):
    with ape.reverts("GuardedPool: oracle is not a contract"):
        create_pool(oracle=anyone)


def test_deploy_pool__attaches_to_existing_market(
    project, deployer, breaker, market_id, pool_oracle, governance, guardian
):
    deployed = deploy_pool(
        project, deployer, breaker, market_id, pool_oracle, governance=governance, liquidity_collateral=10
    )
    pool = deployed.pool
    assert deployed.market_id == market_id
    assert pool.address in breaker.consumers(market_id)
    assert pool.spot_price() == PRICE * WAD
    assert pool.band().centre == PRICE * WAD
    assert pool.owner() == governance
    breaker.guardian_trip(market_id, sender=guardian)
    assert pool.breaker_state() == HALTED


def test_deploy_pool__registers_pool_as_venue(project, deployer, breaker, pool_oracle, governance):
    count = breaker.market_count()
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        pool_oracle,
        governance=governance,
        collateral_decimals=6,
        debt_decimals=18,
        liquidity_collateral=1_000,
    )
    assert deployed.market_id == count
    assert breaker.markets(count).venue == deployed.pool.address
    assert deployed.collateral.decimals() == 6 and deployed.debt.decimals() == 18
    assert breaker.depth_baseline(count) == deployed.pool.depth(
        breaker.params(count, breaker.P_DEPTH_BAND_BPS())
    )


def test_deploy_pool__unguarded(project, deployer, governance):
    deployed = deploy_pool(project, deployer, None, None, None, governance=governance, price=3)
    pool = deployed.pool
    assert (pool.BREAKER(), pool.ORACLE()) == (ZERO_ADDRESS, ZERO_ADDRESS)
    assert pool.spot_price() == 3 * WAD
    assert deployed.to_json()["market_id"] is None


def test_deploy_pool__no_price_source_raises(project, deployer, governance):
    with pytest.raises(ValueError, match="give `price=`"):
        deploy_pool(project, deployer, None, None, None, governance=governance)


def test_deploy_pool__market_without_breaker_raises(project, deployer, governance):
    with pytest.raises(ValueError, match="market_id given without a breaker"):
        deploy_pool(project, deployer, None, 0, None, governance=governance, price=1)


def test_deploy_pool__invalid_reference_raises(
    project, deployer, breaker, pool_oracle, pool_feed, governance
):
    pool_feed.set_broken(True, sender=deployer)
    with pytest.raises(ValueError, match="is invalid"):
        deploy_pool(project, deployer, breaker, None, pool_oracle, governance=governance)
