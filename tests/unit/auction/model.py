"""The clearing rule in plain Python, for expected values and property checks.

Independent of the contract's search: it evaluates any price directly from the definitions
(D, S, the pool's quote q, B, A, V, I) with the same integer rounding as the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18
BUY_BIT = 1 << 127
AMOUNT_MASK = (1 << 112) - 1


@dataclass(frozen=True)
class Order:
    is_buy: bool
    limit: int  # debt per whole collateral unit, 18 decimals
    amount: int  # raw collateral units

    @property
    def key(self) -> int:
        return (self.limit << 128) | (BUY_BIT if self.is_buy else 0) | self.amount


def unkey(key: int) -> Order:
    return Order(bool(key & BUY_BIT), key >> 128, key & AMOUNT_MASK)


def debt(collateral: int, price: int, cs: int, ds: int, up: bool) -> int:
    num, den = collateral * cs * price, WAD * ds
    return -(-num // den) if up else num // den


def pool_quote(x: int, y: int, price: int, cs: int, ds: int) -> int:
    """q(p), signed: the collateral the pool buys (> 0) or sells (< 0) at the uniform price p."""
    big_x, worth = x * cs, y * ds * WAD // price
    return (worth - big_x) // (2 * cs) if worth >= big_x else -((big_x - worth) // (2 * cs))


@dataclass(frozen=True)
class Point:
    price: int
    demand: int  # D: buys with limit >= p
    supply: int  # S: sells with limit <= p
    q: int
    buy_side: int  # B
    sell_side: int  # A
    volume: int
    imbalance: int


def evaluate(orders: list[Order], x: int, y: int, price: int, cs: int, ds: int) -> Point:
    demand = sum(o.amount for o in orders if o.is_buy and o.limit >= price)
    supply = sum(o.amount for o in orders if not o.is_buy and o.limit <= price)
    q = pool_quote(x, y, price, cs, ds)
    buy_side, sell_side = demand + max(q, 0), supply + max(-q, 0)
    return Point(
        price, demand, supply, q, buy_side, sell_side, min(buy_side, sell_side), abs(buy_side - sell_side)
    )


def fill(order: Order, c) -> int:
    """The contract's `_fill` for a clearing `c`: none beyond the limit, rationed at the cut."""
    if (order.is_buy and order.limit < c.price) or (not order.is_buy and order.limit > c.price):
        return 0
    if order.limit == c.cut:
        if order.is_buy:
            return order.amount * c.buy_marginal_fill // c.buy_marginal
        return order.amount * c.sell_marginal_fill // c.sell_marginal
    if order.is_buy == (order.limit > c.cut):
        return order.amount
    return 0


def escrow(order: Order, cs: int, ds: int) -> int:
    return debt(order.amount, order.limit, cs, ds, True) if order.is_buy else order.amount


@dataclass(frozen=True)
class Clearing:
    price: int
    cut: int
    volume: int
    imbalance: int
    pool_buys: bool
    pool_collateral: int
    buy_marginal: int
    buy_marginal_fill: int
    sell_marginal: int
    sell_marginal_fill: int
    reference: int


MAX_PRICE = 2**128 - 1


def holds(orders: list[Order], x: int, y: int, price: int, cs: int, ds: int) -> bool:
    """A(p) <= B(p); true at 0 by convention."""
    if price == 0:
        return True
    pt = evaluate(orders, x, y, price, cs, ds)
    return pt.sell_side <= pt.buy_side


def crossing(orders: list[Order], x: int, y: int, cs: int, ds: int) -> int:
    """The highest price with A <= B, by bisection on the definitions."""
    lo, hi = 0, MAX_PRICE + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if holds(orders, x, y, mid, cs, ds) else (lo, mid)
    return lo


def candidates(orders: list[Order], x: int, y: int, ref: int, cs: int, ds: int) -> list[int]:
    """Every limit price, the crossing pair c and c + 1, and the reference."""
    c = crossing(orders, x, y, cs, ds)
    prices = {o.limit for o in orders} | {p for p in (c, c + 1, ref) if 1 <= p <= MAX_PRICE}
    return sorted(prices)


def rank(pt: Point, ref: int) -> tuple:
    """The rule's order: more volume, less imbalance, nearer the reference, lower price."""
    return (-pt.volume, pt.imbalance, abs(pt.price - ref), pt.price)


def clear(orders: list[Order], x: int, y: int, reference: int, cs: int, ds: int) -> Clearing:
    """The clearing rule from the definitions; marginal fills as the contract's `_with_fills`."""
    ref = reference or y * ds * WAD // (x * cs)
    points = [evaluate(orders, x, y, p, cs, ds) for p in candidates(orders, x, y, ref, cs, ds)]
    best = min(points, key=lambda pt: rank(pt, ref))
    p = best.price
    c = crossing(orders, x, y, cs, ds)
    cut = c if p <= c else c + 1  # the crossing level nearest the price
    dm = sum(o.amount for o in orders if o.is_buy and o.limit == cut)
    sm = sum(o.amount for o in orders if not o.is_buy and o.limit == cut)
    pos = best.demand - dm + max(best.q, 0)
    neg = best.supply - sm + max(-best.q, 0)
    if pos >= neg:
        need = pos - neg
        fs = min(sm, dm + need)
        fb = fs - need if fs >= need else 0
    else:
        need = neg - pos
        fb = min(dm, sm + need)
        fs = fb - need if fb >= need else 0
    pool_buys = y * ds * WAD // p >= x * cs  # the contract's quote says 'buys' for a zero purchase too
    return Clearing(p, cut, best.volume, best.imbalance, pool_buys, abs(best.q), dm, fb, sm, fs, ref)


def settle_flows(orders: list[Order], c, cs: int, ds: int) -> dict[str, int]:
    """What `settle` computes: order fills, the debt they move, and the pool's two legs."""
    bought = sold = debt_in = debt_out = 0
    for o in orders:
        f = fill(o, c)
        if o.is_buy:
            bought += f
            debt_in += debt(f, c.price, cs, ds, True)
        else:
            sold += f
            debt_out += debt(f, c.price, cs, ds, False)
    return {
        "bought": bought,
        "sold": sold,
        "pool_collateral_in": sold - bought,
        "pool_debt_in": debt_in - debt_out,
    }


def payout(order: Order, c, cs: int, ds: int) -> tuple[int, int, int]:
    """(filled, collateral out, debt out) of a settled order, as the contract's `claim`."""
    f = fill(order, c)
    if order.is_buy:
        return f, f, escrow(order, cs, ds) - debt(f, c.price, cs, ds, True)
    return f, order.amount - f, debt(f, c.price, cs, ds, False)
