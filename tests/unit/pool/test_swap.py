"""swap: x * y = k with the fee on the input, minimum output, deadline, receiver."""

import ape
import pytest

from tests.unit.pool.conftest import (
    BPS,
    COL,
    DEADLINE,
    FEE_BPS,
    PRICE,
    SEED_COL,
    USD,
    amount_out,
)


def test_swap__sell_collateral(pool, trader, collateral, debt):
    x, y = pool.reserves()
    expected = amount_out(10 * COL, x, y)
    col_before, debt_before = collateral.balanceOf(trader), debt.balanceOf(trader)

    receipt = pool.swap(True, 10 * COL, expected, DEADLINE, sender=trader)

    assert receipt.return_value == expected
    assert collateral.balanceOf(trader) == col_before - 10 * COL
    assert debt.balanceOf(trader) == debt_before + expected
    assert pool.reserves() == (x + 10 * COL, y - expected)
    assert receipt.decode_logs(pool.Swapped) == [
        pool.Swapped(
            trader=trader,
            receiver=trader,
            sell_collateral=True,
            amount_in=10 * COL,
            amount_out=expected,
            fee=10 * COL * FEE_BPS // BPS,
            reserve_collateral=x + 10 * COL,
            reserve_debt=y - expected,
        )
    ]


def test_swap__buy_collateral(pool, trader, collateral, debt):
    x, y = pool.reserves()
    expected = amount_out(20_000 * USD, y, x)

    receipt = pool.swap(False, 20_000 * USD, 0, DEADLINE, sender=trader)

    assert receipt.return_value == expected
    assert pool.reserves() == (x - expected, y + 20_000 * USD)
    [event] = receipt.decode_logs(pool.Swapped)
    assert (event.sell_collateral, event.amount_in, event.amount_out) == (False, 20_000 * USD, expected)


def test_swap__to_receiver(pool, trader, anyone, debt):
    before = debt.balanceOf(anyone)
    receipt = pool.swap(True, COL, 0, DEADLINE, anyone, sender=trader)
    assert debt.balanceOf(anyone) == before + receipt.return_value
    [event] = receipt.decode_logs(pool.Swapped)
    assert (event.trader, event.receiver) == (trader, anyone)


def test_swap__k_grows_by_the_fee(pool, trader):
    x, y = pool.reserves()
    pool.swap(True, 20 * COL, 0, DEADLINE, sender=trader)
    x1, y1 = pool.reserves()
    assert x1 * y1 > x * y


def test_swap__below_minimum_output_reverts(pool, trader):
    x, y = pool.reserves()
    expected = amount_out(10 * COL, x, y)
    with ape.reverts("GuardedPool: output below minimum"):
        pool.swap(True, 10 * COL, expected + 1, DEADLINE, sender=trader)


def test_swap__after_deadline_reverts(pool, trader, chain):
    with ape.reverts("GuardedPool: deadline passed"):
        pool.swap(True, COL, 0, chain.pending_timestamp - 1, sender=trader)


def test_swap__zero_output_reverts(pool, trader):
    with ape.reverts("GuardedPool: output is zero"):
        pool.swap(True, 0, 0, DEADLINE, sender=trader)


def test_swap__reserve_overflow_reverts(pool, trader):
    x, _ = pool.reserves()
    with ape.reverts("GuardedPool: reserve overflow"):
        pool.swap(True, 2**112 - x, 0, DEADLINE, sender=trader)


def test_swap__without_allowance_reverts(pool, anyone, collateral, deployer):
    collateral.mint(anyone, COL, sender=deployer)
    with ape.reverts("erc20: insufficient allowance"):
        pool.swap(True, COL, 0, DEADLINE, sender=anyone)


def test_swap__unguarded_same_result(pool, unguarded_pool, trader):
    guarded = pool.swap(True, 10 * COL, 0, DEADLINE, sender=trader).return_value
    unguarded = unguarded_pool.swap(True, 10 * COL, 0, DEADLINE, sender=trader).return_value
    assert guarded == unguarded


@pytest.mark.parametrize("col_decimals,debt_decimals", [(18, 6), (6, 18), (6, 6), (18, 18)])
def test_swap__any_decimals(create_pool, create_token, fund, lp, trader, col_decimals, debt_decimals):
    collateral, debt = create_token("COL", col_decimals), create_token("USD", debt_decimals)
    pool = create_pool(collateral=collateral, debt=debt)
    col, usd = 10**col_decimals, 10**debt_decimals
    fund(lp, pool, (collateral, SEED_COL * col), (debt, SEED_COL * PRICE * usd))
    fund(trader, pool, (collateral, 10 * col), (debt, 0))
    pool.add_liquidity(SEED_COL * col, SEED_COL * PRICE * usd, 0, DEADLINE, sender=lp)
    pool.refresh_band(sender=trader)
    assert pool.spot_price() == PRICE * 10**18

    out = pool.swap(True, col, 0, DEADLINE, sender=trader).return_value

    assert out == amount_out(col, SEED_COL * col, SEED_COL * PRICE * usd)
    # One unit out of a thousand sells at about the spot price less the fee and the impact.
    assert abs(out / usd - PRICE * (1 - FEE_BPS / BPS) / (1 + (1 - FEE_BPS / BPS) / SEED_COL)) < 1e-6 * PRICE


def test_get_amount_out__matches_swap(pool, trader):
    quote = pool.get_amount_out(True, 3 * COL)
    assert pool.swap(True, 3 * COL, 0, DEADLINE, sender=trader).return_value == quote
    quote = pool.get_amount_out(False, 3_000 * USD)
    assert pool.swap(False, 3_000 * USD, 0, DEADLINE, sender=trader).return_value == quote


def test_get_amount_out__zero_input_is_zero(pool):
    assert pool.get_amount_out(True, 0) == 0
