# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Uniform-price clearing of a reopening call auction against a constant-product pool
@custom:contract-name clearing
@license MIT
@notice Pure math, no storage. `ReopeningAuction` verifies and completes a clearing with
        `_scan_order` + `_select` (one pass over its book in storage, no arrays in memory)
        and searches for the crossing the same way as `_find_crossing` when it is not given
        the right one; `_clear` runs the whole rule over a book held in memory (views).
        `GuardedPool` checks the trade it is handed on its own (value at the price, spot or
        quote after).

        Glossary (quantities in raw collateral units; prices in debt per whole collateral
        unit, 18 decimals, like the pool's `spot_price`; every price is an integer):
          key    one order packed in a word: limit (bits 128..255) | is_buy (bit 127) |
                 amount (bits 0..111)
          x, y   pool reserves, raw units; X = x * cs, Y = y * ds the same in 18 decimals
          q(p)   the pool's net purchase at p: the trade at the uniform price p after which
                 the pool's own spot price is p, (floor(Y * 1e18 / p) - X) / (2 * cs),
                 rounded toward zero; negative when the pool sells. It keeps the value of
                 the reserves at p and never lowers x * y (AM-GM): LPs trade at least as
                 well as on their curve.
          D(p)   buy orders with limit >= p;  S(p) sell orders with limit <= p
          B(p)   D + max(q, 0), the buy side;  A(p) = S + max(-q, 0), the sell side
          V(p)   min(B, A), the executed volume;  I(p) = |B - A|, the imbalance
          c      the crossing: the highest price with A(c) <= B(c) (0 when there is none)

        Rule: among the candidates (every limit price, c, c + 1 and the reference price),
        the price maximises V; ties go to the smaller I, then to the price nearest the
        reference, then to the lower price. Every rounding is a floor, so B never rises and
        A never falls as p rises: A - B is monotone, c is unique, V rises up to c and falls
        after c + 1, and I is smallest at c or c + 1; no price at all executes more than
        the best of them. A candidate can only tie with c (c + 1) when nothing changes
        between them: the nearest sell limit below c with no buy limit in between, the
        nearest buy limit above c + 1 with no sell limit in between, or the reference when
        it lies in that order-free gap. So one pass over the book, checking c and recording
        its neighbours, settles the rule exactly.

        Fills: rationing happens at the cut, the crossing level nearest the price (c or
        c + 1; the price itself when it is one of them): orders better than the cut fill in
        full, orders at the cut (the margin) share what is left pro rata, rounded down,
        worse ones fill nothing; an order never fills at a price beyond its limit. A tie
        winner inside the order-free gap has the same orders on each side as its anchor, so
        its margin is the anchor's. The pool takes the net of the order fills, so
        collateral and debt balance exactly.
"""

# @dev Most orders one auction clears (bounds every loop here).
MAX_ORDERS: constant(uint256) = 256
# @dev One in 18-decimal fixed point.
WAD: constant(uint256) = 10**18
# @dev Highest price (limit or clearing), so that amount * scale * price fits 256 bits.
MAX_PRICE: constant(uint256) = 2**128 - 1
# @dev Largest order amount scaled to 18 decimals (amount * cs), as the pool's reserves.
MAX_AMOUNT_18: constant(uint256) = 2**112 - 1
# @dev Key layout.
PRICE_SHIFT: constant(uint256) = 128
BUY_BIT: constant(uint256) = 2**127
AMOUNT_MASK: constant(uint256) = 2**112 - 1
# @dev Steps of a galloping or bisecting search over [0, MAX_PRICE] (129 suffice).
SEARCH_STEPS: constant(uint256) = 130


# @dev The outcome of a clearing: the price, the cut (the level whose orders are rationed),
#      the volume it executes (pool included), the imbalance it leaves, the pool's trade at
#      that price (as quoted), and the pro-rata shares of the orders at the cut (fill / total
#      of the orders whose limit equals the cut).
struct Clearing:
    price: uint256
    cut: uint256
    volume: uint256
    imbalance: uint256
    pool_buys: bool
    pool_collateral: uint256
    buy_marginal: uint256
    buy_marginal_fill: uint256
    sell_marginal: uint256
    sell_marginal_fill: uint256
    reference: uint256


# @dev What one pass over the book learns about a claimed crossing c. Limits of 0 mean
#      "no such order" (limits are at least 1).
struct Scan:
    crossing: uint256
    demand: uint256  # D(c)
    supply: uint256  # S(c)
    buys_at: uint256  # buys with limit == c
    sells_at: uint256  # sells with limit == c
    buys_next: uint256  # buys with limit == c + 1
    sells_next: uint256  # sells with limit == c + 1
    low_sell: uint256  # highest sell limit < c
    low_sell_amount: uint256
    low_buy: uint256  # highest buy limit < c
    high_buy: uint256  # lowest buy limit > c + 1
    high_buy_amount: uint256
    high_sell: uint256  # lowest sell limit > c + 1


# ---------------------------------------------------------------- orders and amounts


@internal
@pure
def _key(is_buy: bool, limit_price: uint256, amount: uint256) -> uint256:
    """
    @dev Packs an order; the caller has checked limit <= MAX_PRICE and amount < 2**112.
    """
    key: uint256 = (limit_price << PRICE_SHIFT) | amount
    if is_buy:
        key |= BUY_BIT
    return key


@internal
@pure
def _unpack(key: uint256) -> (bool, uint256, uint256):
    """
    @return (is_buy, limit price, amount).
    """
    return key & BUY_BIT != 0, key >> PRICE_SHIFT, key & AMOUNT_MASK


@internal
@pure
def _debt(collateral: uint256, price: uint256, cs: uint256, ds: uint256, round_up: bool) -> uint256:
    """
    @dev Raw debt units worth `collateral` raw collateral units at `price`.
    """
    numerator: uint256 = collateral * cs * price
    denominator: uint256 = WAD * ds
    if round_up:
        return (numerator + denominator - 1) // denominator
    return numerator // denominator


@internal
@pure
def _pool_quote(x: uint256, y: uint256, price: uint256, cs: uint256, ds: uint256) -> (bool, uint256):
    """
    @dev q(p): (True, c) when the pool buys c collateral at `price`, (False, c) when it sells.
    """
    big_x: uint256 = x * cs
    worth: uint256 = y * ds * WAD // price
    if worth >= big_x:
        return True, (worth - big_x) // (2 * cs)
    return False, (big_x - worth) // (2 * cs)


@internal
@pure
def _fill(key: uint256, c: Clearing) -> uint256:
    """
    @dev The collateral an order trades at the clearing `c`: none when the price is beyond
         its limit; otherwise all of it when its limit is better than the cut, a pro-rata
         share (rounded down) at the cut, none when worse.
    """
    is_buy: bool = False
    limit: uint256 = 0
    amount: uint256 = 0
    is_buy, limit, amount = self._unpack(key)
    if is_buy:
        if limit < c.price:
            return 0
    elif limit > c.price:
        return 0
    if limit == c.cut:
        if is_buy:
            return amount * c.buy_marginal_fill // c.buy_marginal
        return amount * c.sell_marginal_fill // c.sell_marginal
    if is_buy == (limit > c.cut):
        return amount
    return 0


# ---------------------------------------------------------------- the crossing


@internal
@pure
def _sides(
    p: uint256, demand: uint256, supply: uint256, x: uint256, y: uint256, cs: uint256, ds: uint256
) -> (uint256, uint256):
    """
    @dev (B, A) at p, given D = demand and S = supply.
    """
    pool_buys: bool = False
    c: uint256 = 0
    pool_buys, c = self._pool_quote(x, y, p, cs, ds)
    if pool_buys:
        return demand + c, supply
    return demand, supply + c


@internal
@pure
def _buy_side_holds(
    p: uint256, demand: uint256, supply: uint256, x: uint256, y: uint256, cs: uint256, ds: uint256
) -> bool:
    """
    @dev A(p) <= B(p): true up to the crossing, false above it.
    """
    buy_side: uint256 = 0
    sell_side: uint256 = 0
    buy_side, sell_side = self._sides(p, demand, supply, x, y, cs, ds)
    return sell_side <= buy_side


@internal
@pure
def _scan_order(s: Scan, key: uint256) -> Scan:
    """
    @dev Adds one order to the scan of the claimed crossing s.crossing.
    """
    r: Scan = s
    c: uint256 = s.crossing
    limit: uint256 = key >> PRICE_SHIFT
    amount: uint256 = key & AMOUNT_MASK
    if key & BUY_BIT != 0:
        if limit >= c:
            r.demand += amount
        if limit == c:
            r.buys_at += amount
        elif limit == c + 1:
            r.buys_next += amount
        elif limit < c:
            r.low_buy = max(r.low_buy, limit)
        elif r.high_buy == 0 or limit < r.high_buy:
            r.high_buy = limit
            r.high_buy_amount = amount
        elif limit == r.high_buy:
            r.high_buy_amount += amount
    else:
        if limit <= c:
            r.supply += amount
        if limit == c:
            r.sells_at += amount
        elif limit == c + 1:
            r.sells_next += amount
        elif limit < c:
            if limit > r.low_sell:
                r.low_sell = limit
                r.low_sell_amount = amount
            elif limit == r.low_sell:
                r.low_sell_amount += amount
        elif r.high_sell == 0 or limit < r.high_sell:
            r.high_sell = limit
    return r


@internal
@pure
def _is_crossing(s: Scan, x: uint256, y: uint256, cs: uint256, ds: uint256) -> bool:
    """
    @dev A(c) <= B(c) (or c = 0) and A(c + 1) > B(c + 1) (or c = MAX_PRICE).
    """
    c: uint256 = s.crossing
    if c > MAX_PRICE:
        return False
    if c > 0 and not self._buy_side_holds(c, s.demand, s.supply, x, y, cs, ds):
        return False
    if c == MAX_PRICE:
        return True
    return not self._buy_side_holds(c + 1, s.demand - s.buys_at, s.supply + s.sells_next, x, y, cs, ds)


@internal
@pure
def _select(s: Scan, x: uint256, y: uint256, reference: uint256, cs: uint256, ds: uint256) -> Clearing:
    """
    @dev The clearing at a verified crossing: the best of c, c + 1, the two limit prices
         next to them and the reference, where they can tie (see the rule). A zero
         reference means the pool's spot price.
    """
    assert x > 0 and y > 0, "clearing: pool is empty"
    assert self._is_crossing(s, x, y, cs, ds), "clearing: not the crossing"
    ref: uint256 = reference
    if ref == 0:
        ref = y * ds * WAD // (x * cs)
    c: uint256 = s.crossing

    # Candidates in ascending order: (price, D, S). Slots that do not apply keep price 0. A reference strictly inside the order-free gap next
    # to c (or c + 1) has the D and S of c (of c + 1) without the orders at c (at c + 1).
    prices: uint256[6] = empty(uint256[6])
    demands: uint256[6] = empty(uint256[6])
    supplies: uint256[6] = empty(uint256[6])
    # The cut of slots 0-2 is c (its orders: buys_at, sells_at), of slots 3-5 it is c + 1.
    if s.low_sell != 0 and s.low_buy < s.low_sell:
        # No buy limit in [low_sell, c): D is that of c; S lacks the sells at c.
        prices[0] = s.low_sell
        demands[0] = s.demand
        supplies[0] = s.supply - s.sells_at
    if ref > max(s.low_sell, s.low_buy) and ref < c:
        prices[1] = ref
        demands[1] = s.demand
        supplies[1] = s.supply - s.sells_at
    if c > 0:
        prices[2] = c
        demands[2] = s.demand
        supplies[2] = s.supply
    if c < MAX_PRICE:
        prices[3] = c + 1
        demands[3] = s.demand - s.buys_at
        supplies[3] = s.supply + s.sells_next
    if ref > c + 1 and (s.high_buy == 0 or ref < s.high_buy) and (s.high_sell == 0 or ref < s.high_sell):
        prices[4] = ref
        demands[4] = s.demand - s.buys_at - s.buys_next
        supplies[4] = s.supply + s.sells_next
    if s.high_buy != 0 and (s.high_sell == 0 or s.high_sell > s.high_buy):
        # No sell limit in (c + 1, high_buy]: S is that of c + 1; D lacks the buys at c + 1.
        prices[5] = s.high_buy
        demands[5] = s.demand - s.buys_at - s.buys_next
        supplies[5] = s.supply + s.sells_next

    best: uint256 = 6
    best_volume: uint256 = 0
    best_imbalance: uint256 = 0
    best_dist: uint256 = 0
    for i: uint256 in range(6):
        p: uint256 = prices[i]
        if p == 0:
            continue
        buy_side: uint256 = 0
        sell_side: uint256 = 0
        buy_side, sell_side = self._sides(p, demands[i], supplies[i], x, y, cs, ds)
        volume: uint256 = min(buy_side, sell_side)
        imbalance: uint256 = max(buy_side, sell_side) - volume
        dist: uint256 = max(p, ref) - min(p, ref)
        if best == 6 or self._better(volume, imbalance, dist, best_volume, best_imbalance, best_dist):
            best = i
            best_volume = volume
            best_imbalance = imbalance
            best_dist = dist
    if best < 3:
        return self._with_fills(
            prices[best], c, best_volume, best_imbalance, demands[best], supplies[best], s.buys_at, s.sells_at,
            x, y, ref, cs, ds,
        )
    return self._with_fills(
        prices[best], c + 1, best_volume, best_imbalance, demands[best], supplies[best], s.buys_next,
        s.sells_next, x, y, ref, cs, ds,
    )


@internal
@pure
def _better(
    volume: uint256, imbalance: uint256, dist: uint256, best_volume: uint256, best_imbalance: uint256,
    best_dist: uint256,
) -> bool:
    """
    @dev More volume; then less imbalance; then nearer the reference. Candidates come in
         ascending price order, so a full tie keeps the lower price.
    """
    if volume != best_volume:
        return volume > best_volume
    if imbalance != best_imbalance:
        return imbalance < best_imbalance
    return dist < best_dist


@internal
@pure
def _with_fills(
    price: uint256,
    cut: uint256,
    volume: uint256,
    imbalance: uint256,
    demand: uint256,
    supply: uint256,
    buy_marginal: uint256,
    sell_marginal: uint256,
    x: uint256,
    y: uint256,
    ref: uint256,
    cs: uint256,
    ds: uint256,
) -> Clearing:
    """
    @dev The fills at the cut: the orders' net sale must equal the pool's net purchase q
         at the price, (S_in + fs) - (D_in + fb) = q, where D_in and S_in are the orders
         beyond the cut and Dm, Sm those at it, with 0 <= fb <= Dm and 0 <= fs <= Sm, both
         as large as possible. At the crossing this is solvable up to
         rounding; what rounding leaves over is the pool's (it trades a few wei off q).
    """
    pool_buys: bool = False
    c: uint256 = 0
    pool_buys, c = self._pool_quote(x, y, price, cs, ds)
    pos: uint256 = demand - buy_marginal  # D_in (+ q when the pool buys)
    neg: uint256 = supply - sell_marginal  # S_in (+ |q| when the pool sells)
    if pool_buys:
        pos += c
    else:
        neg += c
    fs: uint256 = 0
    fb: uint256 = 0
    if pos >= neg:
        need: uint256 = pos - neg  # fs - fb
        fs = min(sell_marginal, buy_marginal + need)
        if fs >= need:
            fb = fs - need
    else:
        need: uint256 = neg - pos  # fb - fs
        fb = min(buy_marginal, sell_marginal + need)
        if fb >= need:
            fs = fb - need
    return Clearing(
        price=price,
        cut=cut,
        volume=volume,
        imbalance=imbalance,
        pool_buys=pool_buys,
        pool_collateral=c,
        buy_marginal=buy_marginal,
        buy_marginal_fill=fb,
        sell_marginal=sell_marginal,
        sell_marginal_fill=fs,
        reference=ref,
    )


# ---------------------------------------------------------------- books in memory


@internal
@pure
def _scan(keys: DynArray[uint256, MAX_ORDERS], c: uint256) -> Scan:
    s: Scan = empty(Scan)
    s.crossing = c
    for key: uint256 in keys:
        s = self._scan_order(s, key)
    return s


@internal
@pure
def _holds_at(
    keys: DynArray[uint256, MAX_ORDERS], p: uint256, x: uint256, y: uint256, cs: uint256, ds: uint256
) -> bool:
    """
    @dev A(p) <= B(p) for the book `keys`; true at p = 0 by convention.
    """
    if p == 0:
        return True
    demand: uint256 = 0
    supply: uint256 = 0
    for key: uint256 in keys:
        limit: uint256 = key >> PRICE_SHIFT
        if key & BUY_BIT != 0:
            if limit >= p:
                demand += key & AMOUNT_MASK
        elif limit <= p:
            supply += key & AMOUNT_MASK
    return self._buy_side_holds(p, demand, supply, x, y, cs, ds)


@internal
@pure
def _find_crossing(
    keys: DynArray[uint256, MAX_ORDERS], x: uint256, y: uint256, cs: uint256, ds: uint256, hint: uint256
) -> uint256:
    """
    @dev The crossing c of the book `keys`: gallops from `hint` (any value) until the test
         A <= B changes, then bisects. Passes over the book: 2 log2(|c - hint| + 1) + 2 at most.
    """
    assert x > 0 and y > 0, "clearing: pool is empty"
    lo: uint256 = 0  # A <= B holds at lo
    hi: uint256 = MAX_PRICE + 1  # ... and fails at hi
    start: uint256 = min(hint, MAX_PRICE)
    if self._holds_at(keys, start, x, y, cs, ds):
        lo = start
        step: uint256 = 1
        for i: uint256 in range(SEARCH_STEPS):
            if lo >= MAX_PRICE or step > MAX_PRICE - lo:
                break
            if self._holds_at(keys, lo + step, x, y, cs, ds):
                lo += step
                step *= 2
            else:
                hi = lo + step
                break
    else:
        hi = start
        step: uint256 = 1
        for i: uint256 in range(SEARCH_STEPS):
            if step >= hi:
                break  # lo = 0 holds by convention
            if self._holds_at(keys, hi - step, x, y, cs, ds):
                lo = hi - step
                break
            hi -= step
            step *= 2
    for i: uint256 in range(SEARCH_STEPS):
        if hi - lo <= 1:
            break
        mid: uint256 = lo + (hi - lo) // 2
        if self._holds_at(keys, mid, x, y, cs, ds):
            lo = mid
        else:
            hi = mid
    return lo


@internal
@pure
def _clear(
    keys: DynArray[uint256, MAX_ORDERS], x: uint256, y: uint256, reference: uint256, cs: uint256, ds: uint256,
    hint: uint256,
) -> Clearing:
    """
    @dev The whole clearing of a book held in memory (for views over arbitrary books).
    """
    c: uint256 = self._find_crossing(keys, x, y, cs, ds, hint)
    return self._select(self._scan(keys, c), x, y, reference, cs, ds)
