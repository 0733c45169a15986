"""add_liquidity and remove_liquidity: shares, proportionality, rounding, every breaker state."""

import math

import ape
import pytest

from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.helpers import advance
from tests.unit.pool.conftest import COL, DEADLINE, PRICE, USD

DEAD = "0x000000000000000000000000000000000000dEaD"


def test_add_liquidity__first_deposit_locks_minimum(create_pool, fund, lp, collateral, debt):
    pool = create_pool()
    fund(lp, pool, (collateral, 10 * COL), (debt, 10 * PRICE * USD))
    expected = math.isqrt(10 * COL * 10 * PRICE * USD)

    receipt = pool.add_liquidity(10 * COL, 10 * PRICE * USD, 0, DEADLINE, sender=lp)

    minimum = pool.MINIMUM_LIQUIDITY()
    assert receipt.return_value == expected - minimum
    assert pool.balanceOf(lp) == expected - minimum
    assert pool.balanceOf(DEAD) == minimum
    assert pool.totalSupply() == expected
    assert pool.reserves() == (10 * COL, 10 * PRICE * USD)
    assert pool.spot_price() == PRICE * 10**18
    assert receipt.decode_logs(pool.LiquidityAdded) == [
        pool.LiquidityAdded(
            provider=lp,
            receiver=lp,
            collateral=10 * COL,
            debt=10 * PRICE * USD,
            shares=expected - minimum,
            reserve_collateral=10 * COL,
            reserve_debt=10 * PRICE * USD,
            supply=expected,
        )
    ]


def test_add_liquidity__first_deposit_too_small_reverts(create_pool, fund, lp, collateral, debt):
    pool = create_pool()
    fund(lp, pool, (collateral, COL), (debt, USD))
    with ape.reverts("GuardedPool: initial liquidity too small"):
        pool.add_liquidity(1_000, 1_000, 0, DEADLINE, sender=lp)


def test_add_liquidity__proportional(pool, other_lp, fund, collateral, debt):
    fund(other_lp, pool, (collateral, 100 * COL), (debt, 1_000_000 * USD))
    x, y = pool.reserves()
    supply = pool.totalSupply()

    # Offers more debt than the ratio needs: only the proportional part is taken.
    receipt = pool.add_liquidity(10 * COL, 1_000_000 * USD, 0, DEADLINE, other_lp, sender=other_lp)

    shares = 10 * COL * supply // x
    assert receipt.return_value == shares
    taken_x, taken_y = -(-shares * x // supply), -(-shares * y // supply)
    assert collateral.balanceOf(other_lp) == 100 * COL - taken_x
    assert debt.balanceOf(other_lp) == 1_000_000 * USD - taken_y
    assert pool.reserves() == (x + taken_x, y + taken_y)
    assert pool.balanceOf(other_lp) == shares
    [event] = receipt.decode_logs(pool.LiquidityAdded)
    assert (event.collateral, event.debt, event.shares, event.supply) == (
        taken_x,
        taken_y,
        shares,
        supply + shares,
    )


def test_add_liquidity__price_unchanged(pool, lp):
    before = pool.spot_price()
    pool.add_liquidity(7 * COL, 7 * PRICE * USD, 0, DEADLINE, sender=lp)
    assert abs(pool.spot_price() - before) <= before // 10**12


def test_add_liquidity__below_minimum_shares_reverts(pool, lp):
    shares = 10 * COL * pool.totalSupply() // pool.reserves()[0]
    with ape.reverts("GuardedPool: shares below minimum"):
        pool.add_liquidity(10 * COL, 10 * PRICE * USD, shares + 1, DEADLINE, sender=lp)


def test_add_liquidity__zero_shares_reverts(pool, lp):
    with ape.reverts("GuardedPool: zero shares"):
        pool.add_liquidity(0, 10 * USD, 0, DEADLINE, sender=lp)


def test_add_liquidity__after_deadline_reverts(pool, lp, chain):
    with ape.reverts("GuardedPool: deadline passed"):
        pool.add_liquidity(COL, PRICE * USD, 0, chain.pending_timestamp - 1, sender=lp)


def test_add_liquidity__allowed_while_halted(pool, breaker, market_id, guardian, lp):
    breaker.guardian_trip(market_id, sender=guardian)
    assert pool.breaker_state() == HALTED
    receipt = pool.add_liquidity(COL, PRICE * USD, 0, DEADLINE, sender=lp)
    assert receipt.return_value > 0


def test_remove_liquidity__proportional(pool, lp, collateral, debt):
    x, y = pool.reserves()
    supply = pool.totalSupply()
    shares = pool.balanceOf(lp) // 3
    col_before, debt_before = collateral.balanceOf(lp), debt.balanceOf(lp)

    receipt = pool.remove_liquidity(shares, 0, 0, sender=lp)

    out_x, out_y = shares * x // supply, shares * y // supply
    assert tuple(receipt.return_value) == (out_x, out_y)
    assert collateral.balanceOf(lp) == col_before + out_x
    assert debt.balanceOf(lp) == debt_before + out_y
    assert pool.reserves() == (x - out_x, y - out_y)
    assert pool.totalSupply() == supply - shares
    assert receipt.decode_logs(pool.LiquidityRemoved) == [
        pool.LiquidityRemoved(
            provider=lp,
            receiver=lp,
            collateral=out_x,
            debt=out_y,
            shares=shares,
            reserve_collateral=x - out_x,
            reserve_debt=y - out_y,
            supply=supply - shares,
        )
    ]


def test_remove_liquidity__all_shares_leaves_locked_minimum(pool, lp):
    pool.remove_liquidity(pool.balanceOf(lp), 0, 0, sender=lp)
    x, y = pool.reserves()
    assert pool.totalSupply() == pool.MINIMUM_LIQUIDITY()
    assert x > 0 and y > 0


def test_remove_liquidity__to_receiver(pool, lp, anyone, collateral):
    before = collateral.balanceOf(anyone)
    receipt = pool.remove_liquidity(10**9, 0, 0, anyone, sender=lp)
    assert collateral.balanceOf(anyone) == before + receipt.return_value[0]


def test_remove_liquidity__more_than_held_reverts(pool, lp):
    with ape.reverts("erc20: burn amount exceeds balance"):
        pool.remove_liquidity(pool.balanceOf(lp) + 1, 0, 0, sender=lp)


def test_remove_liquidity__zero_shares_reverts(pool, lp):
    with ape.reverts("GuardedPool: zero shares"):
        pool.remove_liquidity(0, 0, 0, sender=lp)


def test_remove_liquidity__below_minimum_collateral_reverts(pool, lp):
    shares = pool.balanceOf(lp) // 2
    out_x = shares * pool.reserves()[0] // pool.totalSupply()
    with ape.reverts("GuardedPool: collateral below minimum"):
        pool.remove_liquidity(shares, out_x + 1, 0, sender=lp)


def test_remove_liquidity__below_minimum_debt_reverts(pool, lp):
    shares = pool.balanceOf(lp) // 2
    out_y = shares * pool.reserves()[1] // pool.totalSupply()
    with ape.reverts("GuardedPool: debt below minimum"):
        pool.remove_liquidity(shares, 0, out_y + 1, sender=lp)


def _halt(breaker, market_id, guardian, governance, state):
    breaker.guardian_trip(market_id, sender=guardian)
    if state in (COOLDOWN, AUCTION):
        breaker.force_resume(market_id, sender=governance)
    if state == AUCTION:
        advance(breaker.params(market_id, breaker.P_COOLDOWN_S()))
        breaker.sync(market_id, sender=governance)


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION])
@pytest.mark.funds_exit
def test_remove_liquidity__works_in_every_breaker_state(
    pool, breaker, market_id, guardian, governance, lp, collateral, state
):
    _halt(breaker, market_id, guardian, governance, state)
    assert pool.breaker_state() == state
    shares = pool.balanceOf(lp)
    x, _ = pool.reserves()
    before = collateral.balanceOf(lp)
    pool.remove_liquidity(shares, 0, 0, sender=lp)
    assert collateral.balanceOf(lp) - before == shares * x // (shares + pool.totalSupply())


@pytest.mark.threat
@pytest.mark.parametrize("state", [COOLDOWN, AUCTION])
def test_add_liquidity__from_cooldown_to_auction_end_reverts(
    pool, breaker, market_id, guardian, governance, lp, state
):
    """Liquidity added once a halt resumes would size the pool quote the reopening auction
    clears against (issue 16, finding 6): deposits wait for NORMAL, withdrawals never wait."""
    _halt(breaker, market_id, guardian, governance, state)
    reserves, supply = pool.reserves(), pool.totalSupply()
    with ape.reverts("GuardedPool: deposits closed until the market reopens"):
        pool.add_liquidity(COL, PRICE * USD, 0, DEADLINE, sender=lp)
    assert pool.reserves() == reserves and pool.totalSupply() == supply


def test_add_liquidity__reopened_after_auction_is_allowed(pool, breaker, market_id, guardian, governance, lp):
    _halt(breaker, market_id, guardian, governance, AUCTION)
    advance(breaker.params(market_id, breaker.P_AUCTION_S()))
    breaker.sync(market_id, sender=governance)
    assert pool.breaker_state() == NORMAL
    assert pool.add_liquidity(COL, PRICE * USD, 0, DEADLINE, sender=lp).return_value > 0


@pytest.mark.funds_exit
def test_remove_liquidity__works_with_invalid_reference(pool, pool_feed, lp, deployer):
    pool_feed.set_broken(True, sender=deployer)
    advance(10 * 86_400)  # and the band centre is long stale
    shares = pool.balanceOf(lp)
    assert pool.remove_liquidity(shares, 0, 0, sender=lp).return_value[0] > 0


def test_lp_token__transferable(pool, lp, other_lp):
    pool.transfer(other_lp, 12345, sender=lp)
    assert pool.balanceOf(other_lp) == 12345
    pool.remove_liquidity(12345, 0, 0, sender=other_lp)


def test_lp_token__transfer_above_balance_reverts(pool, lp, other_lp):
    with ape.reverts("erc20: transfer amount exceeds balance"):
        pool.transfer(lp, 1, sender=other_lp)


def test_lp_token__metadata(pool):
    assert (pool.name(), pool.symbol(), pool.decimals()) == ("GuardedPool LP", "GPLP", 18)
