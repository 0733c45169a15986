"""BreakerHookV4 on a real Uniswap v4 PoolManager with a real CircuitBreaker: swaps halted and
resumed with the market, the price band in NORMAL, LP exit in every state."""

from __future__ import annotations

import pytest
from ape.exceptions import ContractLogicError

from deployment.uniswap_v4 import ALL_HOOK_MASK, HOOK_FLAGS
from keeper import params as P
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.helpers import advance
from tests.integrations.v4.conftest import (
    COL,
    FULL_RANGE,
    MAX_SQRT_PRICE,
    MIN_SQRT_PRICE,
    NO_CLAIMS,
    REFRESH_S,
    USD,
    hook_reason,
)

BEFORE_INITIALIZE, BEFORE_SWAP, AFTER_SWAP = 1 << 13, 1 << 7, 1 << 6
BEFORE_REMOVE_LIQUIDITY, AFTER_REMOVE_LIQUIDITY = 1 << 9, 1 << 8


def swap(router, key, hook, sell_collateral: bool, amount_in: int, sender):
    """Exact-input swap with the widest price limit, as a router passes it."""
    zero_for_one = sell_collateral == hook.COLLATERAL_IS_CURRENCY0()
    limit = MIN_SQRT_PRICE + 1 if zero_for_one else MAX_SQRT_PRICE - 1
    return router.swap(key, (zero_for_one, -amount_in, limit), NO_CLAIMS, b"", sender=sender)


def sqrt_price(pool_manager, hook) -> int:
    slot0 = pool_manager.extsload(hook_state_slot(hook))
    return int.from_bytes(bytes(slot0), "big") & (2**160 - 1)


def hook_state_slot(hook) -> bytes:
    from eth_hash.auto import keccak

    return keccak(bytes(hook.POOL_ID()) + (6).to_bytes(32, "big"))


def remove_some_liquidity(lp_router, key, lp, collateral, debt) -> tuple[int, int]:
    before = collateral.balanceOf(lp), debt.balanceOf(lp)
    lp_router.modifyLiquidity(key, (*FULL_RANGE, -(10**17), b"\x00" * 32), b"", sender=lp)
    return collateral.balanceOf(lp) - before[0], debt.balanceOf(lp) - before[1]


def reach(state: int, breaker, market_id, guardian, governance, anyone) -> None:
    """Walks the market from NORMAL to `state` through the breaker's own transitions."""
    if state == NORMAL:
        return
    breaker.guardian_trip(market_id, sender=guardian)
    if state == HALTED:
        return
    breaker.force_resume(market_id, sender=governance)
    if state == COOLDOWN:
        return
    advance(P.resolve()["cooldown_s"])
    breaker.sync(market_id, sender=anyone)
    assert state == AUCTION


# ---------------------------------------------------------------- address and build


def test_hook_address__carries_exactly_its_permission_bits(hook):
    bits = int(hook.address, 16) & ALL_HOOK_MASK
    assert bits == HOOK_FLAGS == hook.HOOK_FLAGS() == BEFORE_INITIALIZE | BEFORE_SWAP | AFTER_SWAP
    assert bits & (BEFORE_REMOVE_LIQUIDITY | AFTER_REMOVE_LIQUIDITY) == 0


def test_pool__initialized_at_the_reference_price_with_the_hook_as_consumer(
    hook, pool_key, breaker, market_id, pool_manager, oracle
):
    assert hook.address in breaker.consumers(market_id)
    assert hook.breaker_state() == NORMAL
    assert pool_key[4] == hook.address
    assert sqrt_price(pool_manager, hook) == hook.sqrt_price_x96_of(oracle.price())


# ---------------------------------------------------------------- swaps and the breaker


def test_swap__in_normal_pays_the_trader(hook, pool_key, swap_router, trader, collateral, debt):
    col_before, usd_before = collateral.balanceOf(trader), debt.balanceOf(trader)
    swap(swap_router, pool_key, hook, True, 1_000 * COL, trader)
    assert collateral.balanceOf(trader) == col_before - 1_000 * COL
    received = debt.balanceOf(trader) - usd_before
    # 1 000 units at a price of 1 less the 0.05% fee and the price impact on about a million of depth
    assert 998 * USD < received < 1_000 * USD


@pytest.mark.parametrize("state", [HALTED, COOLDOWN, AUCTION])
def test_swap__not_normal_reverts(
    state, hook, pool_key, swap_router, trader, breaker, market_id, guardian, governance, anyone
):
    reach(state, breaker, market_id, guardian, governance, anyone)
    assert hook.breaker_state() == state
    expected = {
        HALTED: "market halted",
        COOLDOWN: "market in cooldown",
        AUCTION: "market in reopening auction",
    }
    for sell_collateral in (True, False):
        with pytest.raises(ContractLogicError) as err:
            swap(
                swap_router,
                pool_key,
                hook,
                sell_collateral,
                10 * COL if sell_collateral else 10 * USD,
                trader,
            )
        assert hook_reason(err) == f"BreakerHookV4: {expected[state]}"


def test_swap__resumes_when_the_breaker_reopens(
    hook, pool_key, swap_router, trader, breaker, market_id, guardian, governance, anyone, collateral
):
    reach(AUCTION, breaker, market_id, guardian, governance, anyone)
    advance(P.resolve()["auction_s"])
    tx = breaker.sync(market_id, sender=anyone)
    assert hook.breaker_state() == NORMAL
    pushed = tx.decode_logs(hook.BreakerStateChanged)
    assert [(e.old_state, e.new_state) for e in pushed] == [(AUCTION, NORMAL)]
    assert hook.band().updated_at == 0  # the first swap re-reads the reference
    before = collateral.balanceOf(trader)
    tx = swap(swap_router, pool_key, hook, True, 100 * COL, trader)
    assert collateral.balanceOf(trader) == before - 100 * COL
    refreshed = tx.decode_logs(hook.BandRefreshed)
    assert [(e.new_centre, e.actor) for e in refreshed] == [(10**18, swap_router.address)]


def test_swap__after_reopening_with_an_invalid_reference_reverts(
    hook, pool_key, swap_router, trader, breaker, market_id, guardian, governance, anyone, feed, deployer
):
    reach(COOLDOWN, breaker, market_id, guardian, governance, anyone)
    feed.set_broken(True, sender=deployer)
    advance(P.resolve()["cooldown_s"] + P.resolve()["auction_s"])
    breaker.sync(market_id, sender=anyone)
    assert hook.breaker_state() == NORMAL
    with pytest.raises(ContractLogicError) as err:
        swap(swap_router, pool_key, hook, True, 10 * COL, trader)
    assert hook_reason(err) == "BreakerHookV4: reference price invalid and band centre stale"


# ---------------------------------------------------------------- price band


def test_swap__after_the_refresh_interval_recentres_the_band(
    hook, pool_key, swap_router, trader, feed, deployer, anyone
):
    hook.refresh_band(sender=anyone)
    feed.set_answer(98_000_000, sender=deployer)
    advance(REFRESH_S // 2)
    tx = swap(swap_router, pool_key, hook, True, 10 * COL, trader)
    assert not tx.decode_logs(hook.BandRefreshed)  # the centre is younger than refresh_s
    advance(REFRESH_S // 2 + 1)
    feed.set_answer(98_000_000, sender=deployer)  # a fresh round
    tx = swap(swap_router, pool_key, hook, True, 10 * COL, trader)
    assert [(e.old_centre, e.new_centre) for e in tx.decode_logs(hook.BandRefreshed)] == [
        (10**18, 98 * 10**16)
    ]
    assert hook.band().centre == 98 * 10**16


def test_swap__leaving_the_band_reverts_both_ways(hook, pool_key, swap_router, trader, pool_manager):
    before = sqrt_price(pool_manager, hook)
    # 60 000 units against about a million of depth moves the price about 11%: past the 5% band
    for sell_collateral, amount in ((True, 60_000 * COL), (False, 60_000 * USD)):
        with pytest.raises(ContractLogicError) as err:
            swap(swap_router, pool_key, hook, sell_collateral, amount, trader)
        assert hook_reason(err) == "BreakerHookV4: swap leaves the price band"
    assert sqrt_price(pool_manager, hook) == before


def test_swap__up_to_the_band_edge_passes(hook, pool_key, swap_router, trader, pool_manager):
    # 20 000 units move the price about 4%: inside the 5% band
    swap(swap_router, pool_key, hook, True, 20_000 * COL, trader)
    band = hook.band()
    assert band.sqrt_price_lower_x96 <= sqrt_price(pool_manager, hook) <= band.sqrt_price_upper_x96


def test_swap__toward_the_centre_passes_outside_the_band(
    hook, pool_key, swap_router, trader, pool_manager, feed, deployer, anyone
):
    # The reference falls 10%: the pool (still at 1.00) is above the band around 0.90.
    feed.set_answer(90_000_000, sender=deployer)
    hook.refresh_band(sender=anyone)
    band = hook.band()
    pool_price = sqrt_price(pool_manager, hook)
    raising = not hook.COLLATERAL_IS_CURRENCY0()  # selling collateral lowers its price
    assert (
        (pool_price > band.sqrt_price_upper_x96) if not raising else (pool_price < band.sqrt_price_lower_x96)
    )
    # buying collateral pushes further away: refused; selling brings it back: allowed
    with pytest.raises(ContractLogicError) as err:
        swap(swap_router, pool_key, hook, False, 10 * USD, trader)
    assert hook_reason(err) == "BreakerHookV4: swap leaves the price band"
    swap(swap_router, pool_key, hook, True, 10_000 * COL, trader)


# ---------------------------------------------------------------- LP exit


@pytest.mark.parametrize("state", [NORMAL, HALTED, COOLDOWN, AUCTION])
def test_remove_liquidity__works_in_every_state(
    state,
    pool_key,
    lp_router,
    lp,
    collateral,
    debt,
    breaker,
    market_id,
    guardian,
    governance,
    anyone,
    hook,
    feed,
    deployer,
):
    reach(state, breaker, market_id, guardian, governance, anyone)
    feed.set_broken(True, sender=deployer)  # not even the reference is needed
    got_col, got_usd = remove_some_liquidity(lp_router, pool_key, lp, collateral, debt)
    # a tenth of the liquidity: about 100 000 of each token, rounded down by the pool
    assert 99_000 * COL < got_col <= 100_001 * COL
    assert 99_000 * USD < got_usd <= 100_001 * USD


# ---------------------------------------------------------------- access


def test_initialize__another_pool_key_reverts(hook, pool_key, pool_manager, anyone):
    other = (*pool_key[:2], 3_000, 60, pool_key[4])
    with pytest.raises(ContractLogicError) as err:
        pool_manager.initialize(other, hook.sqrt_price_x96_of(10**18), sender=anyone)
    assert hook_reason(err) == "BreakerHookV4: not this hook's pool"


def test_before_swap__not_from_the_pool_manager_reverts(hook, pool_key, anyone):
    with pytest.raises(ContractLogicError, match="BreakerHookV4: caller is not the pool manager"):
        hook.beforeSwap(anyone, pool_key, (True, -1, MIN_SQRT_PRICE + 1), b"", sender=anyone)
    with pytest.raises(ContractLogicError, match="BreakerHookV4: caller is not the hook"):
        hook.refresh_in_swap(anyone, sender=anyone)


def test_after_swap__from_anyone_changes_nothing(hook, pool_key, anyone):
    band = hook.band()
    selector, delta = hook.afterSwap.call(
        anyone, pool_key, (True, -1, MIN_SQRT_PRICE + 1), 0, b"", sender=anyone
    )
    assert (bytes(selector).hex(), delta) == ("b47b2fb1", 0)
    assert hook.band() == band


def test_swap__hook_data_above_its_bound_reverts(hook, pool_key, swap_router, trader):
    assert hook.MAX_HOOK_DATA() == 32
    zero_for_one = hook.COLLATERAL_IS_CURRENCY0()
    params = (zero_for_one, -COL, MIN_SQRT_PRICE + 1 if zero_for_one else MAX_SQRT_PRICE - 1)
    swap_router.swap(pool_key, params, NO_CLAIMS, b"\x01" * 32, sender=trader)
    with pytest.raises(ContractLogicError):
        swap_router.swap(pool_key, params, NO_CLAIMS, b"\x01" * 33, sender=trader)


def test_on_breaker_state__not_from_the_breaker_reverts(hook, market_id, anyone):
    with pytest.raises(ContractLogicError, match="BreakerHookV4: caller is not the breaker"):
        hook.on_breaker_state(market_id, NORMAL, 0, sender=anyone)


def test_set_band_bps__by_anyone_reverts(hook, anyone):
    with pytest.raises(ContractLogicError, match="ownable: caller is not the owner"):
        hook.set_band_bps(100, sender=anyone)


def test_set_band_bps__narrows_the_bounds_at_once(hook, governance):
    wide = hook.band()
    tx = hook.set_band_bps(100, sender=governance)
    narrow = hook.band()
    assert (
        wide.sqrt_price_lower_x96
        < narrow.sqrt_price_lower_x96
        < narrow.sqrt_price_upper_x96
        < wide.sqrt_price_upper_x96
    )
    assert [(e.old, e.new) for e in tx.decode_logs(hook.BandWidthSet)] == [(500, 100)]
