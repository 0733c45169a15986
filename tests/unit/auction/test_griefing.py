"""Griefing and liveness: a full book of minimum-size orders settles far below a block; a wrong or
front-run crossing is searched for on-chain instead of blocking settlement; refunds never depend
on the breaker behaving."""

import ape
import pytest

from tests.constants import NORMAL
from tests.unit.auction.conftest import COL, MIN_SELL, PHASE_VOID, PRICE, WAD, wad
from tests.unit.auction.helpers import book_orders, post, settle
from tests.unit.auction.model import clear

BLOCK_GAS_LIMIT = 30_000_000  # Ethereum mainnet's, for scale
CS, DS = 1, 10**12


@pytest.mark.threat
def test_settle__full_book_of_minimum_orders_stays_far_below_a_block(
    auction, pool, phases, breaker, market, governance, bidder, seller, anyone
):
    cap = auction.MAX_ORDERS()
    auction.set_order_cap(cap, 0, sender=governance)
    for key in (
        breaker.P_COOLDOWN_S(),
        breaker.P_AUCTION_S(),
    ):  # room for 257 posts and a settle on a slow chain
        breaker.set_param(market, key, 1_800, sender=governance)
    phases.cooldown()
    with ape.reverts("ReopeningAuction: order below minimum size"):
        auction.post_order(False, wad(1_950), MIN_SELL - 1, sender=seller)
    min_buy = 10**15  # 0.001 collateral at ~2,000 escrows 2 debt units, above the 1-unit minimum
    for i in range(cap):  # every limit distinct: the most levels the clearing can face
        if i % 2:
            auction.post_order(False, wad(1_900) + i * 10**15, MIN_SELL, sender=seller)
        else:
            auction.post_order(True, wad(2_100) - i * 10**15, min_buy, sender=bidder)
    with ape.reverts("ReopeningAuction: public order slots full"):  # commits no more than the smallest order
        auction.post_order(True, wad(1_000), min_buy, sender=bidder)
    # A larger order evicts the smallest (the lowest buy) after a scan of the whole book.
    evicting = auction.post_order(False, wad(1_950), MIN_SELL, sender=seller)
    assert len(evicting.decode_logs(auction.OrderEvicted)) == 1
    assert evicting.gas_used < 2_500_000  # one storage read of each order's two words, bounded by MAX_ORDERS
    print(f"post_order evicting from a full book of {cap}: {evicting.gas_used:,} gas")
    phases.auction()
    receipt = settle(auction, anyone)
    assert receipt.decode_logs(auction.AuctionSettled)[0].orders == cap
    assert receipt.gas_used < 5_000_000 < BLOCK_GAS_LIMIT
    print(f"settle({cap} orders): {receipt.gas_used:,} gas")
    assert auction.claimable(0)[0] + auction.claimable(1)[0] > 0  # the crossing orders filled


@pytest.mark.threat
def test_settle__wrong_crossing_is_searched_on_chain(auction, pool, phases, bidder, seller, anyone):
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    x, y = pool.reserves()
    expected = clear(book_orders(auction), x, y, PRICE * WAD, CS, DS)
    right = auction.crossing()
    for hint in (0, right * 3, 2**200):
        gas = auction.settle.estimate_gas_cost(hint, sender=anyone)
        assert gas > auction.settle.estimate_gas_cost(right, sender=anyone)
    receipt = auction.settle(0, sender=anyone)
    assert receipt.return_value == expected.price


@pytest.mark.threat
def test_settle__front_run_withdrawals_neither_delay_nor_void_the_round(
    auction, pool, phases, breaker, market, bidder, seller, anyone, deployer, fund, collateral, debt
):
    """Withdrawing liquidity in AUCTION (deposits are closed, withdrawals never) moves the
    crossing after the settler read it. A withdrawal is real depth gone, so the settle clears at
    once against the thinner pool, with the stale crossing as a hint: a dust withdrawal in every
    block cannot keep the auction from settling. The withdrawer can deposit again only from the
    block after the reopening."""
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    stale = auction.crossing()
    for _ in range(3):  # one dust withdrawal a block, then a big one
        pool.remove_liquidity(10**6, 0, 0, sender=deployer)
    pool.remove_liquidity(pool.balanceOf(deployer) // 2, 0, 0, sender=deployer)
    assert auction.crossing() != stale
    x, y = pool.reserves()
    expected = clear(book_orders(auction), x, y, PRICE * WAD, CS, DS)
    receipt = auction.settle(stale, sender=anyone)
    assert receipt.return_value == expected.price
    assert not receipt.decode_logs(auction.PoolReservesRecorded)
    assert breaker.state(market) == NORMAL
    x, y = pool.reserves()
    fund(deployer, pool, (collateral, x), (debt, y))
    assert pool.add_liquidity(x, y, 0, 2**64, sender=deployer).return_value > 0  # the next block: open again


@pytest.mark.funds_exit
def test_cancel_order__refund_without_the_breaker_after_escape_time(
    chain, auction, breaker, phases, seller, collateral
):
    """The breaker stops answering (its code replaced): refunds wait ORDER_ESCAPE_S, then work."""
    phases.cooldown()
    order_id = post(auction, seller, False, wad(1_990), 2 * COL)
    chain.provider.set_code(breaker.address, chain.provider.get_code(collateral.address))
    with ape.reverts():
        auction.cancel_order(order_id, sender=seller)
    chain.pending_timestamp += auction.ORDER_ESCAPE_S()
    chain.mine()
    assert auction.phase(order_id) == PHASE_VOID
    before = collateral.balanceOf(seller)
    auction.cancel_order(order_id, sender=seller)
    assert collateral.balanceOf(seller) == before + 2 * COL


@pytest.mark.funds_exit
def test_claim__refund_without_the_breaker_after_escape_time(chain, auction, breaker, phases, bidder, debt):
    phases.cooldown()
    order_id = post(auction, bidder, True, wad(2_010), COL)
    phases.auction()  # locked: the auction never settles
    chain.provider.set_code(breaker.address, chain.provider.get_code(debt.address))
    chain.pending_timestamp += auction.ORDER_ESCAPE_S()
    chain.mine()
    before = debt.balanceOf(bidder)
    auction.claim(order_id, sender=bidder)
    assert debt.balanceOf(bidder) == before + 2_010 * 10**6


@pytest.mark.funds_exit
def test_escape_time__outlasts_any_round_the_breaker_allows(auction, breaker):
    """Longest round: a halt that lapses at the largest max halt, then the longest cool-down and auction."""
    longest = 86_400 + 1_800 + 1_800
    assert auction.ORDER_ESCAPE_S() > longest
    assert breaker.param_bounds(breaker.P_MAX_HALT_S())[1] == 86_400
    assert (
        breaker.param_bounds(breaker.P_COOLDOWN_S())[1]
        == breaker.param_bounds(breaker.P_AUCTION_S())[1]
        == 1_800
    )
