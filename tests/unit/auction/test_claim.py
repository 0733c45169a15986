"""claim: pull-based payouts after settlement (fill at the clearing price plus unspent escrow) or a
full refund after a round that ended unsettled; claims read only the auction's own storage."""

import ape
import pytest

from tests.unit.auction.conftest import COL, PHASE_SETTLED, PHASE_VOID, PRICE, WAD, wad
from tests.unit.auction.helpers import book_orders, post, settle
from tests.unit.auction.model import clear, payout

CS, DS = 1, 10**12


@pytest.fixture
def settled(auction, pool, phases, dlp, bidder, seller, anyone):
    """A settled round: a DLP sell above the price (unfilled), a bid and a sell that cross."""
    phases.halt()
    ids = {"dlp": post(auction, dlp, False, wad(1_990), 5 * COL)}
    phases.cooldown()
    ids["bidder"] = post(auction, bidder, True, wad(2_010), 3 * COL)
    ids["seller"] = post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    orders = dict(zip(("dlp", "bidder", "seller"), book_orders(auction), strict=True))
    x, y = pool.reserves()
    c = clear(list(orders.values()), x, y, PRICE * WAD, CS, DS)
    settle(auction, anyone)
    return ids, orders, c


def test_claim__buyer_gets_fill_and_unspent_escrow(auction, settled, bidder, collateral, debt):
    ids, orders, c = settled
    filled, collateral_out, debt_out = payout(orders["bidder"], c, CS, DS)
    assert (filled, collateral_out) == (3 * COL, 3 * COL) and debt_out > 0
    before = (collateral.balanceOf(bidder), debt.balanceOf(bidder))
    receipt = auction.claim(ids["bidder"], sender=bidder)
    assert receipt.decode_logs(auction.OrderClaimed) == [
        auction.OrderClaimed(
            owner=bidder,
            order_id=ids["bidder"],
            round=auction.current_round(),
            receiver=bidder,
            filled=filled,
            collateral_out=collateral_out,
            debt_out=debt_out,
        )
    ]
    assert (collateral.balanceOf(bidder), debt.balanceOf(bidder)) == (
        before[0] + collateral_out,
        before[1] + debt_out,
    )
    # Paid no more than the limit: escrow (at the limit) minus refund is the price, rounded up.
    paid = 3 * 2_010 * 10**6 - debt_out
    assert paid == -(-3 * COL * c.price // (WAD * DS)) and c.price <= wad(2_010)


def test_claim__seller_gets_proceeds_at_the_clearing_price(auction, settled, seller, debt):
    ids, _, c = settled
    before = debt.balanceOf(seller)
    receipt = auction.claim(ids["seller"], sender=seller)
    [event] = receipt.decode_logs(auction.OrderClaimed)
    assert (event.filled, event.collateral_out, event.debt_out) == (
        10 * COL,
        0,
        10 * COL * c.price // (WAD * DS),
    )
    assert debt.balanceOf(seller) == before + event.debt_out
    assert c.price >= wad(1_950)  # no worse than the limit


def test_claim__order_beyond_the_price_gets_its_escrow_back(auction, settled, dlp, collateral):
    ids, _, _ = settled
    before = collateral.balanceOf(dlp)
    receipt = auction.claim(ids["dlp"], sender=dlp)
    [event] = receipt.decode_logs(auction.OrderClaimed)
    assert (event.filled, event.collateral_out, event.debt_out) == (0, 5 * COL, 0)
    assert collateral.balanceOf(dlp) == before + 5 * COL


@pytest.mark.funds_exit
def test_claim__every_claim_empties_the_escrow_exactly(
    auction, settled, dlp, bidder, seller, collateral, debt
):
    ids, _, _ = settled
    for who, account in (("dlp", dlp), ("bidder", bidder), ("seller", seller)):
        auction.claim(ids[who], sender=account)
    assert (collateral.balanceOf(auction), debt.balanceOf(auction)) == (0, 0)


def test_claim__to_another_receiver(auction, settled, seller, anyone, debt):
    ids, _, _ = settled
    before = debt.balanceOf(anyone)
    receipt = auction.claim(ids["seller"], anyone, sender=seller)
    [event] = receipt.decode_logs(auction.OrderClaimed)
    assert (event.owner, event.receiver) == (seller, anyone)
    assert debt.balanceOf(anyone) == before + event.debt_out


def test_claim__zero_receiver_reverts(auction, settled, seller):
    ids, _, _ = settled
    with ape.reverts("ReopeningAuction: receiver is the zero address"):
        auction.claim(ids["seller"], "0x0000000000000000000000000000000000000000", sender=seller)


def test_claim__not_owner_reverts(auction, settled, anyone):
    ids, _, _ = settled
    with ape.reverts("ReopeningAuction: caller is not the order's owner"):
        auction.claim(ids["seller"], sender=anyone)


def test_claim__twice_reverts(auction, settled, seller):
    ids, _, _ = settled
    auction.claim(ids["seller"], sender=seller)
    with ape.reverts("ReopeningAuction: order already closed"):
        auction.claim(ids["seller"], sender=seller)


@pytest.mark.parametrize("stage", ["cooldown", "auction"])
def test_claim__before_settlement_reverts(auction, phases, bidder, stage):
    phases.cooldown()
    order_id = post(auction, bidder, True, wad(2_010), COL)
    if stage == "auction":
        phases.auction()
    with ape.reverts("ReopeningAuction: round not settled"):
        auction.claim(order_id, sender=bidder)


@pytest.mark.threat
def test_claim__unsettled_round_refunds_in_full(auction, phases, bidder, debt):
    phases.cooldown()
    order_id = post(auction, bidder, True, wad(2_010), 2 * COL)
    phases.auction()
    phases.elapse_auction()
    assert auction.phase(order_id) == PHASE_VOID
    before = debt.balanceOf(bidder)
    receipt = auction.claim(order_id, sender=bidder)
    [event] = receipt.decode_logs(auction.OrderClaimed)
    assert (event.filled, event.collateral_out, event.debt_out) == (0, 0, 4_020 * 10**6)
    assert debt.balanceOf(bidder) == before + 4_020 * 10**6


@pytest.mark.funds_exit
def test_claim__settled_claims_do_not_ask_the_breaker(chain, auction, settled, breaker, seller, collateral):
    """Even with the breaker's code gone (or misbehaving), a settled order claims."""
    ids, _, _ = settled
    assert auction.phase(ids["seller"]) == PHASE_SETTLED
    chain.provider.set_code(breaker.address, chain.provider.get_code(collateral.address))
    receipt = auction.claim(ids["seller"], sender=seller)
    assert receipt.decode_logs(auction.OrderClaimed)[0].filled == 10 * COL


def test_claim__evicted_order_refunds_in_full_after_settlement(
    auction, phases, governance, bidder, other_bidder, anyone, debt
):
    auction.set_order_cap(2, 1, sender=governance)
    phases.cooldown()
    small = post(auction, bidder, True, wad(2_010), COL)
    post(auction, other_bidder, True, wad(2_010), 2 * COL)  # evicts it
    phases.auction()
    settle(auction, anyone)
    assert auction.claimable(small) == (0, 0, 2_010 * 10**6)
    before = debt.balanceOf(bidder)
    receipt = auction.claim(small, sender=bidder)
    assert receipt.return_value == (0, 2_010 * 10**6)
    assert debt.balanceOf(bidder) == before + 2_010 * 10**6
