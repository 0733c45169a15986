"""Helpers of the auction tests: posting a book, reading it back as model orders."""

from __future__ import annotations

from tests.unit.auction.model import Order


def post(auction, actor, is_buy: bool, limit: int, amount: int) -> int:
    """Posts an order and returns its id."""
    return auction.post_order(is_buy, limit, amount, sender=actor).return_value


def book_orders(auction) -> list[Order]:
    """The live orders of the current book, as model orders."""
    orders = []
    for order_id in auction.book():
        o = auction.order(order_id)
        orders.append(Order(o.is_buy, o.limit_price, o.amount))
    return orders


def settle(auction, sender):
    """Settles with the crossing the contract's own view computes (what a keeper sends)."""
    return auction.settle(auction.crossing(), sender=sender)
