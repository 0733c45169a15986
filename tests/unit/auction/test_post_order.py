"""post_order: DLPs while HALTED, anyone in COOLDOWN, never in AUCTION or NORMAL; escrow on entry."""

import ape
import pytest

from tests.unit.auction.conftest import COL, MIN_BUY, MIN_SELL, USD, wad
from tests.unit.auction.helpers import post, settle


def test_post_order__dlp_while_halted(auction, phases, dlp, collateral):
    phases.halt()
    before = collateral.balanceOf(dlp)
    receipt = auction.post_order(False, wad(1_990), 5 * COL, sender=dlp)
    round_ = auction.current_round()
    assert receipt.decode_logs(auction.RoundOpened) == [auction.RoundOpened(round=round_, actor=dlp)]
    assert receipt.decode_logs(auction.OrderPosted) == [
        auction.OrderPosted(
            owner=dlp,
            order_id=0,
            round=round_,
            is_buy=False,
            limit_price=wad(1_990),
            amount=5 * COL,
            escrow=5 * COL,
            dlp=True,
        )
    ]
    assert collateral.balanceOf(dlp) == before - 5 * COL
    assert collateral.balanceOf(auction) == 5 * COL
    assert auction.book() == [0]
    order = auction.order(0)
    assert (order.owner, order.round, order.dlp, order.live, order.is_buy) == (dlp, round_, True, True, False)
    assert (order.posted_at, order.limit_price, order.amount) == (receipt.timestamp, wad(1_990), 5 * COL)


def test_post_order__public_while_halted_reverts(auction, phases, bidder):
    phases.halt()
    with ape.reverts("ReopeningAuction: only designated liquidity providers post while halted"):
        auction.post_order(True, wad(2_010), COL, sender=bidder)


@pytest.mark.parametrize("is_buy", [True, False])
def test_post_order__anyone_in_cooldown(auction, phases, bidder, collateral, debt, is_buy):
    phases.cooldown()
    token, escrow = (debt, 3 * 2_010 * USD) if is_buy else (collateral, 3 * COL)
    before = token.balanceOf(bidder)
    receipt = auction.post_order(is_buy, wad(2_010), 3 * COL, sender=bidder)
    [event] = receipt.decode_logs(auction.OrderPosted)
    assert (event.owner, event.is_buy, event.escrow, event.dlp) == (bidder, is_buy, escrow, False)
    assert token.balanceOf(bidder) == before - escrow
    assert auction.public_orders() == 1


def test_post_order__buy_escrow_rounds_up(auction, phases, bidder, debt):
    """3 wei of collateral at 1.5 debt per unit: 4.5e-12 USD, 1 raw unit escrowed after rounding up."""
    phases.cooldown()
    auction.set_minimums(MIN_SELL, 1, sender=auction.owner())
    receipt = auction.post_order(True, wad(1.5), 10**12 + 1, sender=bidder)
    assert receipt.decode_logs(auction.OrderPosted)[0].escrow == 2  # 1.5e-6 + dust -> 2 raw units


@pytest.mark.parametrize("state", ["normal", "auction"])
def test_post_order__outside_halt_and_cooldown_reverts(auction, phases, dlp, state):
    if state == "auction":
        phases.cooldown()
        phases.auction()
    with ape.reverts("ReopeningAuction: orders are taken while halted (DLPs) or in cooldown"):
        auction.post_order(False, wad(1_990), COL, sender=dlp)


@pytest.mark.parametrize(
    "is_buy, amount, message",
    [
        (False, MIN_SELL - 1, "ReopeningAuction: order below minimum size"),
        (True, MIN_BUY * 10**12 // 2_000 - 10**9, "ReopeningAuction: order below minimum size"),
        (False, 0, "ReopeningAuction: amount out of bounds"),
        (False, 2**112, "ReopeningAuction: amount out of bounds"),
    ],
)
@pytest.mark.threat
def test_post_order__size_out_of_bounds_reverts(auction, phases, seller, is_buy, amount, message):
    phases.cooldown()
    with ape.reverts(message):
        auction.post_order(is_buy, wad(2_000), amount, sender=seller)


@pytest.mark.parametrize("is_buy, amount", [(False, MIN_SELL), (True, MIN_BUY * 10**12 // 2_000)])
def test_post_order__exactly_minimum_size(auction, phases, seller, is_buy, amount):
    phases.cooldown()
    auction.post_order(is_buy, wad(2_000), amount, sender=seller)
    assert auction.book_size() == 1


@pytest.mark.parametrize("limit", [0, 2**128])
def test_post_order__limit_price_out_of_bounds_reverts(auction, phases, seller, limit):
    phases.cooldown()
    with ape.reverts("ReopeningAuction: limit price out of bounds"):
        auction.post_order(False, limit, COL, sender=seller)


@pytest.mark.threat
def test_post_order__public_slots_full_reverts_dlp_still_posts(auction, phases, governance, dlp, bidder):
    """Reserved slots: the public cannot crowd designated liquidity providers out."""
    auction.set_order_cap(4, 2, sender=governance)
    phases.cooldown()
    for _ in range(2):
        auction.post_order(True, wad(1_990), COL, sender=bidder)
    with ape.reverts("ReopeningAuction: public order slots full"):
        auction.post_order(True, wad(1_990), COL, sender=bidder)
    auction.post_order(True, wad(1_990), COL, sender=dlp)
    auction.post_order(True, wad(1_990), COL, sender=dlp)
    with ape.reverts("ReopeningAuction: order book full"):
        auction.post_order(True, wad(1_990), COL, sender=dlp)


@pytest.mark.threat
def test_post_order__cancel_frees_a_public_slot(auction, phases, governance, bidder):
    auction.set_order_cap(4, 2, sender=governance)
    phases.cooldown()
    first = auction.post_order(True, wad(1_990), COL, sender=bidder).return_value
    auction.post_order(True, wad(1_990), COL, sender=bidder)
    auction.cancel_order(first, sender=bidder)
    auction.post_order(True, wad(1_990), COL, sender=bidder)
    assert auction.public_orders() == 2


def test_post_order__new_round_starts_a_new_book(auction, phases, dlp, bidder):
    phases.cooldown()
    auction.post_order(True, wad(1_990), COL, sender=bidder)
    first_round = auction.current_round()
    phases.halt()  # the guardian re-trips from COOLDOWN: a new round
    receipt = auction.post_order(False, wad(2_050), COL, sender=dlp)
    assert auction.current_round() != first_round
    assert receipt.decode_logs(auction.RoundOpened)[0].round == auction.current_round()
    assert auction.book() == [1]
    assert auction.public_orders() == 0


@pytest.mark.threat
def test_post_order__dust_orders_do_not_lock_out_an_honest_bidder(
    auction, breaker, market, phases, governance, anyone, bidder, debt
):
    """The attack: at the start of COOLDOWN the attacker (`anyone`) fills every public slot with
    minimum orders at limits that never fill. The honest bid still gets in, evicting a dust order,
    and fills at settlement; the evicted order is refunded in full."""
    attacker = anyone
    for key in (
        breaker.P_COOLDOWN_S(),
        breaker.P_AUCTION_S(),
    ):  # room for 151 posts and a settle on a slow chain
        breaker.set_param(market, key, 1_800, sender=governance)
    phases.cooldown()
    public_slots = auction.max_orders() - auction.dlp_slots()
    assert public_slots == 150
    dust = []
    for i in range(public_slots):
        if i % 2:
            dust.append(post(auction, attacker, False, wad(20_000), MIN_SELL))  # never fills
        else:
            dust.append(
                post(auction, attacker, True, wad(100), MIN_BUY * COL // (100 * USD))
            )  # escrows MIN_BUY
    assert auction.public_orders() == public_slots
    before = debt.balanceOf(bidder)
    receipt = auction.post_order(True, wad(2_010), 5 * COL, sender=bidder)
    honest = receipt.return_value
    print(f"post_order evicting from {public_slots} public orders: {receipt.gas_used:,} gas")
    [evicted] = receipt.decode_logs(auction.OrderEvicted)
    assert (evicted.owner, evicted.order_id in dust, evicted.value, evicted.by_order, evicted.by_value) == (
        attacker,
        True,
        MIN_BUY,
        honest,
        10_050 * USD,
    )
    assert debt.balanceOf(bidder) == before - 10_050 * USD
    assert auction.public_orders() == public_slots
    assert honest in auction.book() and evicted.order_id not in auction.book()
    refunded = debt.balanceOf(attacker)
    auction.cancel_order(evicted.order_id, sender=attacker)
    assert debt.balanceOf(attacker) == refunded + MIN_BUY
    phases.auction()
    settle(auction, anyone)
    # Only the pool sells: about 2.49 collateral takes its price up to the bid's 2,010 limit.
    assert 2 * COL < auction.claimable(honest)[0] < 3 * COL


@pytest.mark.threat
def test_post_order__larger_public_order_evicts_the_smallest(
    auction, phases, governance, bidder, seller, other_bidder, debt
):
    auction.set_order_cap(4, 2, sender=governance)
    phases.cooldown()
    small = post(auction, bidder, True, wad(1_990), COL)  # commits 1,990
    post(auction, seller, False, wad(2_100), COL)  # commits 1 collateral, 2,000 at the reference
    round_ = auction.current_round()
    receipt = auction.post_order(True, wad(1_990), 2 * COL, sender=other_bidder)
    assert receipt.decode_logs(auction.OrderEvicted) == [
        auction.OrderEvicted(
            owner=bidder,
            order_id=small,
            round=round_,
            by_order=receipt.return_value,
            actor=other_bidder,
            value=1_990 * USD,
            by_value=3_980 * USD,
        )
    ]
    assert auction.order(small).evicted and auction.order(small).live
    assert auction.claimable(small) == (0, 0, 1_990 * USD)
    assert auction.public_orders() == 2 and auction.book_size() == 2


def test_post_order__not_larger_than_the_smallest_reverts(auction, phases, governance, bidder, other_bidder):
    auction.set_order_cap(4, 2, sender=governance)
    phases.cooldown()
    post(auction, bidder, True, wad(1_990), COL)
    post(auction, bidder, True, wad(1_995), COL)
    with ape.reverts("ReopeningAuction: public order slots full"):
        auction.post_order(True, wad(1_990), COL, sender=other_bidder)  # ties with the smallest: no eviction


@pytest.mark.threat
def test_post_order__dlp_orders_are_never_evicted(auction, phases, governance, dlp, bidder, other_bidder):
    auction.set_order_cap(4, 2, sender=governance)
    phases.halt()
    dlp_order = post(auction, dlp, True, wad(1_000), MIN_BUY * COL // (1_000 * USD))  # the smallest order
    phases.cooldown()
    small = post(auction, bidder, True, wad(1_990), COL)
    post(auction, bidder, True, wad(1_995), COL)
    receipt = auction.post_order(True, wad(2_000), 2 * COL, sender=other_bidder)
    [evicted] = receipt.decode_logs(auction.OrderEvicted)
    assert evicted.order_id == small
    assert dlp_order in auction.book()
