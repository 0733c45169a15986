"""Bad input to GuardedPool: zero, huge and out-of-range amounts, wrong tokens and wrong decimals.

Each case reverts with the pool's own reason naming what is wrong (or the LP token's, for shares),
and leaves the reserves untouched.
"""

import ape
import pytest

from tests.unit.pool.conftest import COL, DEADLINE, MAX, USD

pytestmark = pytest.mark.bad_input

MAX_RESERVE = 2**112 - 1


@pytest.mark.parametrize(
    "sell_collateral, amount, reason",
    [
        (True, 0, "GuardedPool: output is zero"),
        (False, 0, "GuardedPool: output is zero"),
        (True, 1, "GuardedPool: output is zero"),  # one wei of collateral is worth less than one debt unit
        (True, MAX_RESERVE, "GuardedPool: reserve overflow"),
        (False, MAX_RESERVE, "GuardedPool: reserve overflow"),
    ],
)
def test_swap__bad_amount_reverts(pool, trader, sell_collateral, amount, reason):
    before = pool.reserves()
    with ape.reverts(reason):
        pool.swap(sell_collateral, amount, 0, DEADLINE, sender=trader)
    assert pool.reserves() == before


def test_swap__amount_near_2_256_names_the_overflow(pool, trader):
    before = pool.reserves()
    with ape.reverts("GuardedPool: reserve overflow"):
        pool.swap(True, MAX, 0, DEADLINE, sender=trader)
    assert pool.reserves() == before


def test_swap__more_than_the_trader_holds_reverts(pool, anyone, collateral):
    collateral.approve(pool, MAX, sender=anyone)
    assert collateral.balanceOf(anyone) < COL
    with ape.reverts("erc20: transfer amount exceeds balance"):
        pool.swap(True, COL, 0, DEADLINE, sender=anyone)


def test_swap__minimum_output_above_the_reserve_reverts(pool, trader):
    _, y = pool.reserves()
    with ape.reverts("GuardedPool: output below minimum"):
        pool.swap(True, COL, y + 1, DEADLINE, sender=trader)


@pytest.mark.parametrize(
    "max_collateral, max_debt, reason",
    [
        (0, 0, "GuardedPool: zero shares"),
        (0, 10**9 * USD, "GuardedPool: zero shares"),  # one side missing: no share at the pool's ratio
        (10**6 * COL, 0, "GuardedPool: zero shares"),
        (1, 1, "GuardedPool: zero shares"),  # dust
        (2**113, 2**113, "GuardedPool: reserve overflow"),
    ],
)
def test_add_liquidity__bad_amount_reverts(pool, lp, max_collateral, max_debt, reason):
    before = (pool.reserves(), pool.totalSupply())
    with ape.reverts(reason):
        pool.add_liquidity(max_collateral, max_debt, 0, DEADLINE, sender=lp)
    assert (pool.reserves(), pool.totalSupply()) == before


@pytest.mark.parametrize(
    "max_collateral, max_debt, reason",
    [
        (0, 0, "GuardedPool: initial liquidity too small"),
        (1_000, 1_000, "GuardedPool: initial liquidity too small"),  # exactly the locked minimum
        (2**112, COL, "GuardedPool: reserve overflow"),
    ],
)
def test_add_liquidity__bad_first_deposit_reverts(
    create_pool, fund, lp, collateral, debt, max_collateral, max_debt, reason
):
    pool = create_pool()
    fund(lp, pool, (collateral, 10 * COL), (debt, 10 * USD))
    with ape.reverts(reason):
        pool.add_liquidity(max_collateral, max_debt, 0, DEADLINE, sender=lp)


def test_add_liquidity__no_limit_maximum_takes_only_the_ratio(pool, lp, collateral, debt):
    """A maximum of 2**256 - 1 on one side means "whatever the other side's ratio needs"."""
    x, y = pool.reserves()
    supply = pool.totalSupply()
    pool.add_liquidity(COL, MAX, 0, DEADLINE, sender=lp)
    x2, y2 = pool.reserves()
    assert x2 - x == pytest.approx(COL, rel=1e-9) and (y2 - y) * x == pytest.approx((x2 - x) * y, rel=1e-9)
    assert pool.totalSupply() > supply


def test_add_liquidity__amount_near_2_256_names_the_overflow(pool, lp):
    before = (pool.reserves(), pool.totalSupply())
    with ape.reverts("GuardedPool: reserve overflow"):
        pool.add_liquidity(MAX, MAX, 0, DEADLINE, sender=lp)
    assert (pool.reserves(), pool.totalSupply()) == before


@pytest.mark.parametrize(
    "shares, reason",
    [
        (0, "GuardedPool: zero shares"),
        (MAX, "erc20: burn amount exceeds balance"),
    ],
)
def test_remove_liquidity__bad_amount_reverts(pool, lp, shares, reason):
    before = (pool.reserves(), pool.balanceOf(lp))
    with ape.reverts(reason):
        pool.remove_liquidity(shares, 0, 0, sender=lp)
    assert (pool.reserves(), pool.balanceOf(lp)) == before


def test_remove_liquidity__minimums_above_the_reserves_revert(pool, lp):
    x, y = pool.reserves()
    with ape.reverts("GuardedPool: collateral below minimum"):
        pool.remove_liquidity(pool.balanceOf(lp), x + 1, 0, sender=lp)
    with ape.reverts("GuardedPool: debt below minimum"):
        pool.remove_liquidity(pool.balanceOf(lp), 0, y + 1, sender=lp)


@pytest.mark.parametrize("decimals", [19, 36, 255])
@pytest.mark.parametrize("side", ["collateral", "debt"])
def test_constructor__token_with_wrong_decimals_reverts(project, create_pool, anyone, side, decimals):
    # Deployed by another account (see test_deploy.py): reverted deployments reuse the deployer's nonce.
    token = project.MockERC20.deploy(f"Mock {decimals}", "BAD", decimals, sender=anyone)
    with ape.reverts("GuardedPool: token decimals above 18"):
        create_pool(**{side: token})


@pytest.mark.parametrize("decimals", [0, 18])
def test_constructor__token_decimals_at_the_bounds(project, create_pool, anyone, collateral, decimals):
    token = project.MockERC20.deploy(f"Mock {decimals}", "OK", decimals, sender=anyone)
    pool = create_pool(debt=token)
    assert pool.DEBT_SCALE() == 10 ** (18 - decimals) and pool.COLLATERAL() == collateral.address


@pytest.mark.parametrize(
    "argument, reason",
    [
        ({"fee_bps": 101}, "GuardedPool: fee out of bounds"),
        ({"fee_bps": MAX}, "GuardedPool: fee out of bounds"),
        ({"band_bps": 0}, "GuardedPool: band width out of bounds"),
        ({"band_bps": MAX}, "GuardedPool: band width out of bounds"),
        ({"band_refresh_s": 0}, "GuardedPool: band refresh out of bounds"),
        ({"band_refresh_s": MAX, "band_max_age_s": MAX}, "GuardedPool: band refresh out of bounds"),
    ],
)
def test_constructor__huge_or_zero_parameter_reverts(create_pool, argument, reason):
    with ape.reverts(reason):
        create_pool(**argument)


@pytest.mark.parametrize(
    "setter, args, reason",
    [
        ("set_fee_bps", (MAX,), "GuardedPool: fee out of bounds"),
        ("set_band_bps", (0,), "GuardedPool: band width out of bounds"),
        ("set_band_timing", (0, 0), "GuardedPool: band refresh out of bounds"),
        ("set_band_timing", (60, MAX), "GuardedPool: band max age out of bounds"),
    ],
)
def test_setter__huge_or_zero_value_reverts(pool, governance, setter, args, reason):
    with ape.reverts(reason):
        getattr(pool, setter)(*args, sender=governance)
