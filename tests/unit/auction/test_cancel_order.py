"""cancel_order: a full refund while the round is open or after it ended unsettled; never in AUCTION."""

import ape
import pytest

from tests.unit.auction.conftest import COL, PHASE_LOCKED, PHASE_OPEN, PHASE_VOID, USD, wad
from tests.unit.auction.helpers import settle


@pytest.mark.funds_exit
def test_cancel_order__in_cooldown_refunds_escrow(auction, phases, bidder, debt):
    phases.cooldown()
    before = debt.balanceOf(bidder)
    order_id = auction.post_order(True, wad(2_010), 2 * COL, sender=bidder).return_value
    assert auction.phase(order_id) == PHASE_OPEN
    receipt = auction.cancel_order(order_id, sender=bidder)
    assert receipt.decode_logs(auction.OrderCancelled) == [
        auction.OrderCancelled(
            owner=bidder,
            order_id=order_id,
            round=auction.current_round(),
            refund_collateral=0,
            refund_debt=4_020 * USD,
        )
    ]
    assert debt.balanceOf(bidder) == before
    assert auction.book() == []
    assert not auction.order(order_id).live


def test_cancel_order__not_owner_reverts(auction, phases, bidder, anyone):
    phases.cooldown()
    order_id = auction.post_order(True, wad(2_010), COL, sender=bidder).return_value
    with ape.reverts("ReopeningAuction: caller is not the order's owner"):
        auction.cancel_order(order_id, sender=anyone)


def test_cancel_order__twice_reverts(auction, phases, bidder):
    phases.cooldown()
    order_id = auction.post_order(True, wad(2_010), COL, sender=bidder).return_value
    auction.cancel_order(order_id, sender=bidder)
    with ape.reverts("ReopeningAuction: order already closed"):
        auction.cancel_order(order_id, sender=bidder)


def test_cancel_order__unknown_order_reverts(auction, bidder):
    with ape.reverts("ReopeningAuction: unknown order"):
        auction.cancel_order(7, sender=bidder)


def test_cancel_order__dlp_while_halted(auction, phases, dlp, collateral):
    phases.halt()
    order_id = auction.post_order(False, wad(1_990), COL, sender=dlp).return_value
    before = collateral.balanceOf(dlp)
    auction.cancel_order(order_id, sender=dlp)
    assert collateral.balanceOf(dlp) == before + COL


def test_cancel_order__in_auction_reverts(auction, phases, seller):
    phases.cooldown()
    order_id = auction.post_order(False, wad(1_990), COL, sender=seller).return_value
    phases.auction()
    assert auction.phase(order_id) == PHASE_LOCKED
    with ape.reverts("ReopeningAuction: order book locked for the auction"):
        auction.cancel_order(order_id, sender=seller)


@pytest.mark.funds_exit
def test_cancel_order__after_unsettled_reopen_refunds(auction, phases, seller, collateral):
    """The auction phase elapsed by time without settlement: the round is void, orders refund."""
    phases.cooldown()
    before = collateral.balanceOf(seller)
    order_id = auction.post_order(False, wad(1_990), 3 * COL, sender=seller).return_value
    phases.auction()
    phases.elapse_auction()
    assert auction.phase(order_id) == PHASE_VOID
    receipt = auction.cancel_order(order_id, sender=seller)
    assert receipt.decode_logs(auction.OrderCancelled)[0].refund_collateral == 3 * COL
    assert collateral.balanceOf(seller) == before


@pytest.mark.funds_exit
def test_cancel_order__after_retrip_refunds_old_round(auction, phases, seller, dlp, collateral):
    phases.cooldown()
    order_id = auction.post_order(False, wad(1_990), COL, sender=seller).return_value
    phases.halt()  # new round; the old one can never settle
    auction.post_order(False, wad(1_995), COL, sender=dlp)
    assert auction.phase(order_id) == PHASE_VOID
    before = collateral.balanceOf(seller)
    auction.cancel_order(order_id, sender=seller)
    assert collateral.balanceOf(seller) == before + COL
    assert auction.book_size() == 1  # the new round's book is untouched


def test_cancel_order__after_settlement_reverts(auction, phases, seller, anyone):
    phases.cooldown()
    order_id = auction.post_order(False, wad(1_990), COL, sender=seller).return_value
    phases.auction()
    settle(auction, anyone)
    with ape.reverts("ReopeningAuction: round settled, claim instead"):
        auction.cancel_order(order_id, sender=seller)


def test_cancel_order__swap_and_pop_keeps_book_consistent(auction, phases, bidder, seller):
    phases.cooldown()
    ids = [
        auction.post_order(
            i % 2 == 0, wad(1_990 + i), COL, sender=bidder if i % 2 == 0 else seller
        ).return_value
        for i in range(4)
    ]
    auction.cancel_order(ids[1], sender=seller)
    assert auction.book() == [ids[0], ids[3], ids[2]]
    auction.cancel_order(ids[3], sender=seller)  # now in slot 1
    assert auction.book() == [ids[0], ids[2]]
    auction.cancel_order(ids[2], sender=bidder)  # the last slot
    assert auction.book() == [ids[0]]


def test_cancel_order__evicted_order_refunds_even_in_auction(
    auction, phases, governance, bidder, other_bidder, debt
):
    auction.set_order_cap(2, 1, sender=governance)
    phases.cooldown()
    small = auction.post_order(True, wad(1_990), COL, sender=bidder).return_value
    auction.post_order(True, wad(1_990), 2 * COL, sender=other_bidder)  # evicts it
    phases.auction()
    assert auction.phase(small) == PHASE_LOCKED  # the round is locked, the evicted order is not in it
    before = debt.balanceOf(bidder)
    receipt = auction.cancel_order(small, sender=bidder)
    assert receipt.decode_logs(auction.OrderCancelled) == [
        auction.OrderCancelled(
            owner=bidder,
            order_id=small,
            round=auction.current_round(),
            refund_collateral=0,
            refund_debt=1_990 * USD,
        )
    ]
    assert debt.balanceOf(bidder) == before + 1_990 * USD
    assert not auction.order(small).live
    with ape.reverts("ReopeningAuction: order already closed"):
        auction.cancel_order(small, sender=bidder)
