"""Bad input to ReopeningAuction: zero, huge and out-of-range orders, unknown ids, garbage settlement hints,
and a deployment pointed at the wrong contract. Each reverts with the auction's reason naming what is
wrong and takes no escrow; a garbage hint only costs its settler gas."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.unit.auction.conftest import COL, MAX, PRICE, WAD, wad
from tests.unit.auction.helpers import book_orders, post
from tests.unit.auction.model import clear

pytestmark = pytest.mark.bad_input

CS, DS = 1, 10**12


def escrow_of(auction, collateral, debt):
    return collateral.balanceOf(auction), debt.balanceOf(auction), auction.book_size()


@pytest.mark.parametrize(
    "is_buy, limit, amount, reason",
    [
        (False, wad(2_000), 0, "ReopeningAuction: amount out of bounds"),
        (True, wad(2_000), 0, "ReopeningAuction: amount out of bounds"),
        (False, wad(2_000), MAX, "ReopeningAuction: amount out of bounds"),
        (True, wad(2_000), MAX, "ReopeningAuction: amount out of bounds"),
        (False, 0, COL, "ReopeningAuction: limit price out of bounds"),
        (True, 0, COL, "ReopeningAuction: limit price out of bounds"),
        (True, MAX, COL, "ReopeningAuction: limit price out of bounds"),
        (False, MAX, COL, "ReopeningAuction: limit price out of bounds"),
        (False, wad(2_000), 1, "ReopeningAuction: order below minimum size"),  # one wei of collateral
        (True, 1, COL, "ReopeningAuction: order below minimum size"),  # a buy that escrows one wei of debt
    ],
)
@pytest.mark.threat
def test_post_order__bad_order_reverts(
    auction, phases, seller, collateral, debt, is_buy, limit, amount, reason
):
    phases.cooldown()
    before = escrow_of(auction, collateral, debt)
    with ape.reverts(reason):
        auction.post_order(is_buy, limit, amount, sender=seller)
    assert escrow_of(auction, collateral, debt) == before


def test_post_order__more_than_the_poster_holds_reverts(auction, phases, anyone, collateral, debt):
    phases.cooldown()
    held = collateral.balanceOf(anyone)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        auction.post_order(False, wad(2_000), held + 1, sender=anyone)


@pytest.mark.parametrize("call", ["cancel_order", "claim"])
@pytest.mark.parametrize("order_id", [0, 10**6, MAX])
def test_order_id__unknown_reverts(auction, phases, seller, call, order_id):
    phases.cooldown()
    with ape.reverts("ReopeningAuction: unknown order"):
        getattr(auction, call)(order_id, sender=seller)


@pytest.mark.parametrize("hint", [0, 1, 2**128 - 1, 2**128, 2**255, MAX])
@pytest.mark.threat
def test_settle__garbage_crossing_hint_still_settles_at_the_right_price(
    auction, pool, phases, bidder, seller, anyone, hint
):
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    x, y = pool.reserves()
    expected = clear(book_orders(auction), x, y, PRICE * WAD, CS, DS)
    assert auction.settle(hint, sender=anyone).return_value == expected.price


@pytest.mark.parametrize(
    "args, reason",
    [
        ({"min_sell_collateral": MAX}, "ReopeningAuction: minimum sell out of bounds"),
        ({"min_buy_debt": 0}, "ReopeningAuction: minimum buy out of bounds"),
        ({"max_orders": 0}, "ReopeningAuction: order cap out of bounds"),
        ({"max_orders": MAX}, "ReopeningAuction: order cap out of bounds"),
        ({"dlp_slots": MAX}, "ReopeningAuction: dlp slots above half the cap"),
        ({"pool": "eoa"}, "ReopeningAuction: pool is not a contract"),
        ({"pool": ZERO_ADDRESS}, "ReopeningAuction: pool is not a contract"),
    ],
)
def test_deploy__bad_argument_reverts(create_auction, anyone, args, reason):
    if args.get("pool") == "eoa":
        args = {"pool": anyone}
    with ape.reverts(reason):
        create_auction(**args)


@pytest.mark.parametrize(
    "setter, args, reason",
    [
        ("set_minimums", (0, 1), "ReopeningAuction: minimum sell out of bounds"),
        ("set_minimums", (1, MAX), "ReopeningAuction: minimum buy out of bounds"),
        ("set_order_cap", (MAX, 0), "ReopeningAuction: order cap out of bounds"),
        ("set_order_cap", (10, 6), "ReopeningAuction: dlp slots above half the cap"),
        ("add_dlp", (ZERO_ADDRESS,), "ReopeningAuction: dlp is the zero address"),
        ("remove_dlp", (ZERO_ADDRESS,), "ReopeningAuction: not a dlp"),
    ],
)
def test_governance__bad_value_reverts(auction, governance, setter, args, reason):
    with ape.reverts(reason):
        getattr(auction, setter)(*args, sender=governance)
