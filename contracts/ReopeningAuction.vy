# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title ReopeningAuction: the staged restart of a guarded pool after a halt
@custom:contract-name ReopeningAuction
@license MIT
@notice The seed's orderly restart for one GuardedPool and its breaker market:
        designated liquidity providers (DLPs, a registry kept by governance) post escrowed
        limit orders while the market is HALTED, anyone posts in COOLDOWN, nothing executes
        before AUCTION. In AUCTION anyone calls `settle`: one uniform price, with the pool's
        own curve taking part (see `modules/clearing.vy`), the pool is traded to that price
        with its band centred there, and the breaker reopens the market (AUCTION -> NORMAL).
        Every order then claims its fill at the clearing price (never worse than its limit)
        and the rest of its escrow; claims are pulled by the owner and touch nothing but the
        two tokens.

        Computed off-chain, verified on-chain: the settler passes the crossing c (the
        keeper computes it, or anyone reads `crossing()`), and `settle` checks it in one
        pass over the book, which also yields everything the rule needs. A wrong or stale
        c is not fatal: `settle` then searches from it on-chain (galloping, then
        bisecting), paying a pass per step, so settlement cannot be blocked by a bad hint
        or by a front-run that moves the pool.

        Glossary (quantities in raw collateral units, prices in debt per whole collateral
        unit with 18 decimals, as the pool's `spot_price`):
          round   one halt of the market: the breaker's trip id (trip_day << 8 | trips_today);
                  orders belong to the round they were posted in
          escrow  a buy locks ceil(amount * limit) of the debt asset, a sell locks `amount`
                  of collateral
          phase   of a round: OPEN (HALTED/COOLDOWN: post, cancel), LOCKED (AUCTION: settle),
                  SETTLED (claim), VOID (ended without settlement: refund)

        No funds locked: an order is refundable as soon as its round can no longer settle
        (the market reopened by time, or re-tripped into a new round), and, without asking
        the breaker at all, ORDER_ESCAPE_S after it was posted, longer than any round can
        last within the breaker's parameter bounds. Bounded settlement: at most `max_orders`
        (<= MAX_ORDERS) live orders, each at least a minimum escrow; `dlp_slots` of them are
        reserved for DLPs, so the public cannot crowd them out.

        Public slots cannot be squatted: when they are full, a public order whose committed
        value (a buy's escrow; a sell's collateral valued at the reference price) is larger
        than the smallest public order's evicts that order, which is refunded in full at
        once (`cancel_order` or `claim`). Locking an honest order of value v out of the book
        takes holding every public slot with more than v each for the round.

        Liquidity that exists only inside one transaction or block does not clear: the pool's
        reserves are recorded at every post and cancel, and `settle` clears with orders only
        against reserves at most that record, recorded in an earlier block. More reserves
        than recorded (a deposit) are recorded instead, `settle` returns 0 and a later block
        settles; fewer (a withdrawal, the only change the pool allows in AUCTION) clear at
        once, and the pool refuses deposits in the block it reopens, so what was withdrawn
        cannot come back in the settlement's block.
@custom:kill Governance removes the auction from the breaker (`set_auction(market, empty)`)
        and from the pool (`set_auction(empty)`): `settle` then reverts, AUCTION elapses by
        time as without an auction, and every order is refunded (`cancel_order` / `claim`).
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from .interfaces import ICircuitBreaker
from .interfaces import IGuardedPool
from .interfaces import IReferenceOracle
from .interfaces import IReopeningAuction
from .modules import clearing

implements: IReopeningAuction

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
)


# @dev Unpacked view of an order.
struct Order:
    owner: address
    round: uint256
    posted_at: uint256
    dlp: bool
    live: bool
    is_buy: bool
    limit_price: uint256
    amount: uint256
    evicted: bool


# @dev Unpacked view of a round's settlement (price 0: not settled); the marginal amounts
#      are those of the orders whose limit is the cut.
struct Settlement:
    price: uint256
    cut: uint256
    settled_at: uint256
    buy_marginal: uint256
    buy_marginal_fill: uint256
    sell_marginal: uint256
    sell_marginal_fill: uint256


# @dev Phases of a round, as `phase()` reports them for an order.
PHASE_OPEN: public(constant(uint256)) = 1  # HALTED (DLPs) or COOLDOWN: post and cancel
PHASE_LOCKED: public(constant(uint256)) = 2  # AUCTION: the book is frozen until settlement
PHASE_SETTLED: public(constant(uint256)) = 3  # cleared: claim
PHASE_VOID: public(constant(uint256)) = 4  # ended without settlement: refund

# @dev Hard bound on live orders per round (settling MAX_ORDERS stays far below a block).
MAX_ORDERS: public(constant(uint256)) = clearing.MAX_ORDERS
# @dev Bounds of the order cap; DLP slots are at most half of it.
MIN_ORDER_CAP: public(constant(uint256)) = 2
# @dev Bounds of the minimum escrow per order, in raw units of the escrowed asset.
MIN_MIN_ESCROW: public(constant(uint256)) = 1
MAX_MIN_ESCROW: public(constant(uint256)) = 2**96
# @dev Highest limit price, 18 decimals.
MAX_LIMIT_PRICE: public(constant(uint256)) = clearing.MAX_PRICE
# @dev Age after which an unsettled order is refundable without asking the breaker: above
#      the longest round the breaker's bounds allow (max halt 86,400 s + cool-down 1,800 s
#      + auction 1,800 s).
ORDER_ESCAPE_S: public(constant(uint256)) = 172_800

# @dev Layout of an order's first word: owner (160) | round (40) | posted_at (40) | dlp (1) |
#      live (1) | slot in the book (9) | evicted (1). The second word is the clearing key.
ROUND_SHIFT: constant(uint256) = 160
POSTED_SHIFT: constant(uint256) = 200
DLP_BIT: constant(uint256) = 2**240
LIVE_BIT: constant(uint256) = 2**241
SLOT_SHIFT: constant(uint256) = 242
# @dev Set on an order pushed out of the book by a larger public order: refundable at once.
EVICTED_BIT: constant(uint256) = 2**251
MASK_9: constant(uint256) = 2**9 - 1
MASK_40: constant(uint256) = 2**40 - 1
MASK_128: constant(uint256) = 2**128 - 1
MASK_160: constant(uint256) = 2**160 - 1
MASK_112: constant(uint256) = 2**112 - 1
# @dev Layout of the pool record: collateral reserve (112) | debt reserve (112) | block number (32).
RECORD_Y_SHIFT: constant(uint256) = 112
RECORD_BLOCK_SHIFT: constant(uint256) = 224


# @dev The pool traded at the clearing price, its breaker and market, its reference oracle.
POOL: public(immutable(address))
BREAKER: public(immutable(address))
MARKET_ID: public(immutable(uint256))
ORACLE: public(immutable(address))
# @dev The pool's tokens and their scales to 18 decimals.
COLLATERAL: public(immutable(address))
DEBT: public(immutable(address))
COLLATERAL_SCALE: public(immutable(uint256))
DEBT_SCALE: public(immutable(uint256))


# @dev Orders by id, packed in two words (see the layout constants).
_orders: HashMap[uint256, uint256[2]]
# @dev Orders ever posted; ids are 0 .. order_count - 1.
order_count: public(uint256)
# @dev Live order ids of `book_round` (cancelling swaps the last one into the hole).
_book: DynArray[uint256, MAX_ORDERS]
# @dev The round the book belongs to; a post in a newer round starts a new book.
book_round: public(uint256)
# @dev Live orders of the book posted by accounts that are not DLPs.
public_orders: public(uint256)
# @dev Settlement of each round, packed: price | settled_at << 128; marginal buys | fill << 128;
#      marginal sells | fill << 128; cut.
_settlements: HashMap[uint256, uint256[4]]
# @dev The registry of designated liquidity providers.
is_dlp: public(HashMap[address, bool])
# @dev Least escrow of a sell (collateral) and of a buy (debt asset), raw units.
min_sell_collateral: public(uint256)
min_buy_debt: public(uint256)
# @dev Most live orders per round, and how many of them only DLPs may take.
max_orders: public(uint256)
dlp_slots: public(uint256)
# @dev The pool's reserves as last recorded, and the block they were recorded in (RECORD_* layout).
_pool_record: uint256


@deploy
def __init__(
    pool: address,
    owner: address,
    min_sell_collateral: uint256,
    min_buy_debt: uint256,
    max_orders: uint256,
    dlp_slots: uint256,
):
    """
    @dev Anyone may deploy; `owner` becomes the owner. Reads the pool's breaker, market, oracle, tokens and
         scales once. Reverts when `owner` is the zero address, `pool` is not a contract or has no breaker, or
         the minimums or the order cap are out of bounds (as `set_minimums` and `set_order_cap`). Logs
         MinimumsSet and OrderCapSet.
    @param pool The GuardedPool to reopen; it must have a breaker.
    @param owner Governance: keeps the DLP registry and the parameters.
    @param min_sell_collateral Least collateral a sell order escrows, raw units.
    @param min_buy_debt Least debt asset a buy order escrows, raw units.
    @param max_orders Most live orders per round, in [MIN_ORDER_CAP, MAX_ORDERS].
    @param dlp_slots Order slots only DLPs may take, at most max_orders / 2.
    """
    ownable.__init__()
    assert owner != empty(address), "ReopeningAuction: owner is the zero address"
    ownable._transfer_ownership(owner)
    assert pool.is_contract, "ReopeningAuction: pool is not a contract"
    breaker: address = staticcall IGuardedPool(pool).BREAKER()
    assert breaker != empty(address), "ReopeningAuction: pool has no breaker"
    POOL = pool
    BREAKER = breaker
    MARKET_ID = staticcall IGuardedPool(pool).MARKET_ID()
    ORACLE = staticcall IGuardedPool(pool).ORACLE()
    COLLATERAL = staticcall IGuardedPool(pool).COLLATERAL()
    DEBT = staticcall IGuardedPool(pool).DEBT()
    COLLATERAL_SCALE = staticcall IGuardedPool(pool).COLLATERAL_SCALE()
    DEBT_SCALE = staticcall IGuardedPool(pool).DEBT_SCALE()
    self._set_minimums(min_sell_collateral, min_buy_debt)
    self._set_order_cap(max_orders, dlp_slots)


# ---------------------------------------------------------------- orders


@external
@nonreentrant
def post_order(is_buy: bool, limit_price: uint256, amount: uint256) -> uint256:
    """
    @notice Books a limit order for the current round and escrows it: a buy locks
            ceil(amount * limit_price) of the debt asset, a sell locks `amount` collateral.
    @dev DLPs may post while the market is HALTED, anyone in COOLDOWN; never in AUCTION or
         NORMAL. Non-DLP orders use at most max_orders - dlp_slots slots; when those are full,
         a public order of larger committed value evicts the smallest public order (refunded
         in full by `cancel_order` or `claim`). Records the pool's reserves.
    @param is_buy True to buy collateral with the debt asset, False to sell collateral.
    @param limit_price Highest price a buy pays / lowest a sell accepts, 18 decimals.
    @param amount Collateral to buy or sell, raw units.
    @return The order id.
    """
    assert limit_price > 0 and limit_price <= MAX_LIMIT_PRICE, "ReopeningAuction: limit price out of bounds"
    assert amount > 0 and amount * COLLATERAL_SCALE <= clearing.MAX_AMOUNT_18, "ReopeningAuction: amount out of bounds"
    state: ICircuitBreaker.State = staticcall ICircuitBreaker(BREAKER).state(MARKET_ID)
    dlp: bool = self.is_dlp[msg.sender]
    if state == ICircuitBreaker.State.HALTED:
        assert dlp, "ReopeningAuction: only designated liquidity providers post while halted"
    else:
        assert state == ICircuitBreaker.State.COOLDOWN, "ReopeningAuction: orders are taken while halted (DLPs) or in cooldown"
    round: uint256 = self._current_round()
    assert self._settlements[round][0] == 0, "ReopeningAuction: round already settled"
    if round != self.book_round:
        self._book = []
        self.public_orders = 0
        self.book_round = round
        log IReopeningAuction.RoundOpened(round=round, actor=msg.sender)

    escrow: uint256 = amount
    token: address = COLLATERAL
    if is_buy:
        escrow = clearing._debt(amount, limit_price, COLLATERAL_SCALE, DEBT_SCALE, True)
        token = DEBT
        assert escrow >= self.min_buy_debt, "ReopeningAuction: order below minimum size"
    else:
        assert escrow >= self.min_sell_collateral, "ReopeningAuction: order below minimum size"

    order_id: uint256 = self.order_count
    key: uint256 = clearing._key(is_buy, limit_price, amount)
    if not dlp:
        if self.public_orders >= self.max_orders - self.dlp_slots:
            self._evict_smallest_public(key, order_id, round)
        assert self.public_orders < self.max_orders - self.dlp_slots, "ReopeningAuction: public order slots full"
        self.public_orders += 1
    slot: uint256 = len(self._book)
    assert slot < self.max_orders, "ReopeningAuction: order book full"
    self.order_count = order_id + 1
    w0: uint256 = (
        convert(msg.sender, uint256)
        | (round << ROUND_SHIFT)
        | (block.timestamp << POSTED_SHIFT)
        | LIVE_BIT
        | (slot << SLOT_SHIFT)
    )
    if dlp:
        w0 |= DLP_BIT
    self._orders[order_id] = [w0, key]
    self._book.append(order_id)
    self._record_pool()
    assert extcall IERC20(token).transferFrom(msg.sender, self, escrow, default_return_value=True), "ReopeningAuction: transfer in failed"
    log IReopeningAuction.OrderPosted(
        owner=msg.sender, order_id=order_id, round=round, is_buy=is_buy, limit_price=limit_price, amount=amount,
        escrow=escrow, dlp=dlp,
    )
    return order_id


@external
@nonreentrant
def cancel_order(order_id: uint256):
    """
    @notice Refunds the whole escrow of an order: while its round is open (HALTED or
            COOLDOWN), or once the round has ended without settlement.
    @dev Only the order's owner. Reverts in AUCTION (the book is frozen) and after
         settlement (use `claim`), unless the order was evicted: then it is out of the book
         and refunded in any phase.
    @param order_id The order to cancel.
    """
    w0: uint256 = self._orders[order_id][0]
    self._check_owner_live(w0)
    round: uint256 = (w0 >> ROUND_SHIFT) & MASK_40
    if w0 & EVICTED_BIT == 0:
        phase: uint256 = self._phase(round, (w0 >> POSTED_SHIFT) & MASK_40)
        assert phase != PHASE_LOCKED, "ReopeningAuction: order book locked for the auction"
        assert phase != PHASE_SETTLED, "ReopeningAuction: round settled, claim instead"
        if phase == PHASE_OPEN:
            self._unbook((w0 >> SLOT_SHIFT) & MASK_9, w0 & DLP_BIT == 0)
            self._record_pool()
    self._orders[order_id][0] = w0 & ~LIVE_BIT
    refund_collateral: uint256 = 0
    refund_debt: uint256 = 0
    refund_collateral, refund_debt = self._escrow_of(self._orders[order_id][1])
    self._pay(msg.sender, refund_collateral, refund_debt)
    log IReopeningAuction.OrderCancelled(
        owner=msg.sender, order_id=order_id, round=round, refund_collateral=refund_collateral,
        refund_debt=refund_debt,
    )


@external
@nonreentrant
def claim(order_id: uint256, receiver: address = msg.sender) -> (uint256, uint256):
    """
    @notice Pays out an order: after settlement its fill at the clearing price plus the
            rest of its escrow; after a round that ended unsettled its whole escrow.
    @dev Only the order's owner, once; `receiver` lets an owner that a token refuses to pay
         claim elsewhere. Settled claims read only this contract's storage. Reverts when
         `receiver` is the zero address, the order is not the caller's live order, or its round
         is neither settled nor void. Logs OrderClaimed.
    @param order_id The order to pay out.
    @param receiver Who receives the payout; the caller by default.
    @return (collateral, debt asset) paid to `receiver`, raw units.
    """
    assert receiver != empty(address), "ReopeningAuction: receiver is the zero address"
    w0: uint256 = self._orders[order_id][0]
    self._check_owner_live(w0)
    round: uint256 = (w0 >> ROUND_SHIFT) & MASK_40
    phase: uint256 = PHASE_VOID  # an evicted order is out of the book: refunded in any phase
    if w0 & EVICTED_BIT == 0:
        phase = self._phase(round, (w0 >> POSTED_SHIFT) & MASK_40)
    assert phase == PHASE_SETTLED or phase == PHASE_VOID, "ReopeningAuction: round not settled"
    key: uint256 = self._orders[order_id][1]
    filled: uint256 = 0
    collateral_out: uint256 = 0
    debt_out: uint256 = 0
    if phase == PHASE_SETTLED:
        filled, collateral_out, debt_out = self._settled_payout(key, self._settlement_of(round))
    else:
        collateral_out, debt_out = self._escrow_of(key)
    self._orders[order_id][0] = w0 & ~LIVE_BIT
    self._pay(receiver, collateral_out, debt_out)
    log IReopeningAuction.OrderClaimed(
        owner=msg.sender, order_id=order_id, round=round, receiver=receiver, filled=filled,
        collateral_out=collateral_out, debt_out=debt_out,
    )
    return collateral_out, debt_out


# ---------------------------------------------------------------- settlement


@external
@nonreentrant
def settle(crossing: uint256) -> uint256:
    """
    @notice Clears the round's book at one uniform price (maximum volume, then smallest
            imbalance, then nearest the reference), trades the pool to that price with its
            band centred there, and reopens the market. Permissionless.
    @dev `crossing` is the highest price at which the buy side is at least the sell side
         (`crossing()` computes it); it is verified in one pass over the book, and searched
         for on-chain from it when it is wrong. The pool takes the net of the order fills,
         so collateral and debt balance exactly and every later claim is covered. Reverts
         unless the market is in AUCTION and this contract is the auction of both the pool
         and the breaker market; those are checked first, before any clearing work.
         A book with orders clears only against pool reserves at most those recorded in an
         earlier block (at a post, a cancel or a previous `settle`): when either reserve is
         above the record, `settle` records them and returns 0 without settling, so liquidity
         added inside the settling transaction never reaches the clearing; reserves below it
         are a withdrawal and clear (the pool refuses deposits in its reopening block, so it
         cannot be undone in this block). Reverts when the record is from this block.
    @param crossing The crossing price c, 18 decimals (any value works, a right one is cheapest).
    @return The clearing price, 18 decimals; 0 when it only recorded the pool's reserves.
    """
    assert staticcall ICircuitBreaker(BREAKER).auction_of(MARKET_ID) == self, "ReopeningAuction: not the market's auction in the breaker"
    assert staticcall IGuardedPool(POOL).auction() == self, "ReopeningAuction: not the pool's auction"
    state: ICircuitBreaker.State = extcall ICircuitBreaker(BREAKER).sync(MARKET_ID)
    assert state == ICircuitBreaker.State.AUCTION, "ReopeningAuction: market is not in auction"
    round: uint256 = self._current_round()
    assert self._settlements[round][0] == 0, "ReopeningAuction: round already settled"

    n: uint256 = self._book_size_of(round)
    x: uint256 = 0
    y: uint256 = 0
    reference: uint256 = 0
    x, y, reference = self._pool_now()
    if n > 0:
        # Orders make the clearing depend on the pool's depth: only depth that was already there
        # in an earlier block counts (the pool takes no swaps outside NORMAL, so only liquidity moves it).
        # Less depth than recorded is a withdrawal, which the pool keeps out of its own block once
        # the market reopens (no deposits in the reopening block): it clears. More is a deposit.
        record: uint256 = self._pool_record
        if x > record & MASK_112 or y > (record >> RECORD_Y_SHIFT) & MASK_112:
            self._record_pool()
            return 0
        assert record >> RECORD_BLOCK_SHIFT < block.number, "ReopeningAuction: pool reserves recorded in this block"

    # One pass over the book verifies the crossing and gathers what the rule needs; a wrong
    # crossing costs a search from it (a pass per step) and one more scan. A hint above
    # clearing.MAX_PRICE is clamped to it first, so any value works.
    hint: uint256 = min(crossing, clearing.MAX_PRICE)
    s: clearing.Scan = self._book_scan(n, hint)
    if not clearing._is_crossing(s, x, y, COLLATERAL_SCALE, DEBT_SCALE):
        s = self._book_scan(n, self._book_find_crossing(n, x, y, hint))
    c: clearing.Clearing = clearing._select(s, x, y, reference, COLLATERAL_SCALE, DEBT_SCALE)

    # A second pass computes every fill exactly as `claim` will.
    bought: uint256 = 0
    sold: uint256 = 0
    debt_from_buyers: uint256 = 0
    debt_to_sellers: uint256 = 0
    for i: uint256 in range(n, bound=MAX_ORDERS):
        key: uint256 = self._orders[self._book[i]][1]
        filled: uint256 = clearing._fill(key, c)
        if key & clearing.BUY_BIT != 0:
            bought += filled
            debt_from_buyers += clearing._debt(filled, c.price, COLLATERAL_SCALE, DEBT_SCALE, True)
        else:
            sold += filled
            debt_to_sellers += clearing._debt(filled, c.price, COLLATERAL_SCALE, DEBT_SCALE, False)
    pool_collateral_in: int256 = convert(sold, int256) - convert(bought, int256)
    pool_debt_in: int256 = convert(debt_from_buyers, int256) - convert(debt_to_sellers, int256)

    self._settlements[round] = [
        c.price | (block.timestamp << 128),
        c.buy_marginal | (c.buy_marginal_fill << 128),
        c.sell_marginal | (c.sell_marginal_fill << 128),
        c.cut,
    ]
    if pool_collateral_in > 0:
        assert extcall IERC20(COLLATERAL).approve(POOL, convert(pool_collateral_in, uint256), default_return_value=True), "ReopeningAuction: approve failed"
    if pool_debt_in > 0:
        assert extcall IERC20(DEBT).approve(POOL, convert(pool_debt_in, uint256), default_return_value=True), "ReopeningAuction: approve failed"
    extcall IGuardedPool(POOL).clear_auction(c.price, pool_collateral_in, pool_debt_in)
    extcall ICircuitBreaker(BREAKER).settle_auction(MARKET_ID)
    log IReopeningAuction.AuctionSettled(
        actor=msg.sender, round=round, price=c.price, volume=max(bought, sold), imbalance=c.imbalance,
        bought=bought, sold=sold, pool_collateral_in=pool_collateral_in, pool_debt_in=pool_debt_in,
        orders=n, reference=c.reference,
    )
    return c.price


# ---------------------------------------------------------------- governance


@external
@nonreentrant
def add_dlp(dlp: address):
    """
    @notice Designates a liquidity provider: it may post while the market is HALTED and
            use the reserved slots.
    @dev Only the owner (governance). Reverts on the zero address or an existing DLP. Logs DlpAdded.
    @param dlp The liquidity provider.
    """
    ownable._check_owner()
    assert dlp != empty(address), "ReopeningAuction: dlp is the zero address"
    assert not self.is_dlp[dlp], "ReopeningAuction: already a dlp"
    self.is_dlp[dlp] = True
    log IReopeningAuction.DlpAdded(actor=msg.sender, dlp=dlp)


@external
@nonreentrant
def remove_dlp(dlp: address):
    """
    @notice Removes a designated liquidity provider. Its booked orders stay.
    @dev Only the owner (governance). Reverts when `dlp` is not a DLP. Logs DlpRemoved.
    @param dlp The liquidity provider.
    """
    ownable._check_owner()
    assert self.is_dlp[dlp], "ReopeningAuction: not a dlp"
    self.is_dlp[dlp] = False
    log IReopeningAuction.DlpRemoved(actor=msg.sender, dlp=dlp)


@external
@nonreentrant
def set_minimums(new_sell_collateral: uint256, new_buy_debt: uint256):
    """
    @notice Sets the least escrow of a sell (collateral) and of a buy (debt asset).
    @dev Only the owner (governance). Bounds [MIN_MIN_ESCROW, MAX_MIN_ESCROW], raw units.
         Applies to new orders. Logs MinimumsSet.
    @param new_sell_collateral Least collateral a sell order escrows, raw units.
    @param new_buy_debt Least debt asset a buy order escrows, raw units.
    """
    ownable._check_owner()
    self._set_minimums(new_sell_collateral, new_buy_debt)


@external
@nonreentrant
def set_order_cap(new_max_orders: uint256, new_dlp_slots: uint256):
    """
    @notice Sets the most live orders per round and the slots reserved for DLPs.
    @dev Only the owner (governance). max_orders in [MIN_ORDER_CAP, MAX_ORDERS], dlp_slots
         at most max_orders / 2. Applies to new orders; a fuller book still settles.
         Logs OrderCapSet.
    @param new_max_orders Most live orders per round.
    @param new_dlp_slots Order slots only DLPs may take.
    """
    ownable._check_owner()
    self._set_order_cap(new_max_orders, new_dlp_slots)


# ---------------------------------------------------------------- views


@external
@view
def current_round() -> uint256:
    """
    @notice The market's current round: the breaker's trip id (trip_day << 8 | trips_today).
    @dev Anyone may call.
    @return The round id.
    """
    return self._current_round()


@external
@view
def book_size() -> uint256:
    """
    @notice Live orders in the book of `book_round`.
    @dev Anyone may call.
    @return The number of booked orders.
    """
    return len(self._book)


@external
@view
def book() -> DynArray[uint256, MAX_ORDERS]:
    """
    @notice Live order ids of `book_round`, in book order (not sorted).
    @dev Anyone may call.
    @return The order ids.
    """
    return self._book


@external
@view
def order(order_id: uint256) -> Order:
    """
    @notice An order, unpacked (owner empty: no such order).
    @dev Anyone may call.
    @param order_id The order.
    @return The order.
    """
    w0: uint256 = self._orders[order_id][0]
    is_buy: bool = False
    limit_price: uint256 = 0
    amount: uint256 = 0
    is_buy, limit_price, amount = clearing._unpack(self._orders[order_id][1])
    return Order(
        owner=convert(w0 & MASK_160, address),
        round=(w0 >> ROUND_SHIFT) & MASK_40,
        posted_at=(w0 >> POSTED_SHIFT) & MASK_40,
        dlp=w0 & DLP_BIT != 0,
        live=w0 & LIVE_BIT != 0,
        is_buy=is_buy,
        limit_price=limit_price,
        amount=amount,
        evicted=w0 & EVICTED_BIT != 0,
    )


@external
@view
def settlement(round: uint256) -> Settlement:
    """
    @notice A round's settlement (price 0: not settled).
    @dev Anyone may call.
    @param round The round id.
    @return The settlement.
    """
    c: clearing.Clearing = self._settlement_of(round)
    return Settlement(
        price=c.price,
        cut=c.cut,
        settled_at=self._settlements[round][0] >> 128,
        buy_marginal=c.buy_marginal,
        buy_marginal_fill=c.buy_marginal_fill,
        sell_marginal=c.sell_marginal,
        sell_marginal_fill=c.sell_marginal_fill,
    )


@external
@view
def phase(order_id: uint256) -> uint256:
    """
    @notice The phase of an order's round now (PHASE_OPEN, _LOCKED, _SETTLED, _VOID).
    @dev Anyone may call; reverts for an unknown order.
    @param order_id The order.
    @return The phase.
    """
    w0: uint256 = self._orders[order_id][0]
    assert w0 != 0, "ReopeningAuction: unknown order"
    return self._phase((w0 >> ROUND_SHIFT) & MASK_40, (w0 >> POSTED_SHIFT) & MASK_40)


@external
@view
def claimable(order_id: uint256) -> (uint256, uint256, uint256):
    """
    @notice What `claim` would pay now: (filled collateral, collateral out, debt out);
            zeros while the round is open or locked, or once the order is closed.
    @dev Anyone may call.
    @param order_id The order.
    @return (filled collateral, collateral out, debt out), raw units.
    """
    w0: uint256 = self._orders[order_id][0]
    if w0 & LIVE_BIT == 0:
        return 0, 0, 0
    round: uint256 = (w0 >> ROUND_SHIFT) & MASK_40
    phase: uint256 = PHASE_VOID
    if w0 & EVICTED_BIT == 0:
        phase = self._phase(round, (w0 >> POSTED_SHIFT) & MASK_40)
    key: uint256 = self._orders[order_id][1]
    if phase == PHASE_SETTLED:
        return self._settled_payout(key, self._settlement_of(round))
    if phase == PHASE_VOID:
        collateral_out: uint256 = 0
        debt_out: uint256 = 0
        collateral_out, debt_out = self._escrow_of(key)
        return 0, collateral_out, debt_out
    return 0, 0, 0


@external
@view
def crossing() -> uint256:
    """
    @notice The crossing c of the current round's book against the pool now: what a
            settler passes to `settle`. Searched from the pool's spot price.
    @dev Anyone may call.
    @return The crossing price, 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    reference: uint256 = 0
    x, y, reference = self._pool_now()
    return self._book_find_crossing(self._book_size_of(self._current_round()), x, y, self._spot(x, y))


@external
@view
def preview() -> clearing.Clearing:
    """
    @notice The clearing `settle` would compute now for the current round's book against
            the pool's reserves and the reference price now.
    @dev Anyone may call.
    @return The clearing.
    """
    x: uint256 = 0
    y: uint256 = 0
    reference: uint256 = 0
    x, y, reference = self._pool_now()
    n: uint256 = self._book_size_of(self._current_round())
    s: clearing.Scan = self._book_scan(n, self._book_find_crossing(n, x, y, self._spot(x, y)))
    return clearing._select(s, x, y, reference, COLLATERAL_SCALE, DEBT_SCALE)


@external
@view
def compute_clearing(
    keys: DynArray[uint256, MAX_ORDERS], reserve_collateral: uint256, reserve_debt: uint256, reference: uint256
) -> clearing.Clearing:
    """
    @notice The clearing rule over any book (keys from `order_key`) and pool reserves, with
            this pool's token scales; a zero reference means the pool's spot price. For
            keepers and tests: the same code `settle` runs.
    @dev Anyone may call.
    @param keys The book, each order packed by `order_key`.
    @param reserve_collateral The pool's collateral reserve, raw units.
    @param reserve_debt The pool's debt reserve, raw units.
    @param reference The reference price, 18 decimals; 0 for the pool's spot price.
    @return The clearing.
    """
    return clearing._clear(
        keys, reserve_collateral, reserve_debt, reference, COLLATERAL_SCALE, DEBT_SCALE,
        self._spot(reserve_collateral, reserve_debt),
    )


@external
@pure
def order_key(is_buy: bool, limit_price: uint256, amount: uint256) -> uint256:
    """
    @notice Packs an order as the clearing reads it: limit << 128 | is_buy << 127 | amount.
    @dev Anyone may call; reverts when the limit price or the amount is out of range.
    @param is_buy True for a buy of collateral, False for a sell.
    @param limit_price The limit price, 18 decimals.
    @param amount The collateral amount, raw units.
    @return The packed key.
    """
    assert limit_price <= MAX_LIMIT_PRICE and amount <= clearing.AMOUNT_MASK, "ReopeningAuction: order out of range"
    return clearing._key(is_buy, limit_price, amount)


# ---------------------------------------------------------------- internal


@internal
@view
def _current_round() -> uint256:
    s: ICircuitBreaker.Status = staticcall ICircuitBreaker(BREAKER).status(MARKET_ID)
    return (s.trip_day << 8) | s.trips_today


@internal
@view
def _phase(round: uint256, posted_at: uint256) -> uint256:
    """
    @dev Settled rounds and old orders are judged from this contract's storage alone;
         otherwise the breaker says whether the round is still open, locked or over.
    """
    if self._settlements[round][0] != 0:
        return PHASE_SETTLED
    if block.timestamp >= posted_at + ORDER_ESCAPE_S:
        return PHASE_VOID
    if self._current_round() != round:
        return PHASE_VOID
    state: ICircuitBreaker.State = staticcall ICircuitBreaker(BREAKER).state(MARKET_ID)
    if state == ICircuitBreaker.State.HALTED or state == ICircuitBreaker.State.COOLDOWN:
        return PHASE_OPEN
    if state == ICircuitBreaker.State.AUCTION:
        return PHASE_LOCKED
    return PHASE_VOID


@internal
@view
def _book_size_of(round: uint256) -> uint256:
    """
    @dev Live orders of `round` (0 when the book belongs to another round).
    """
    if self.book_round != round:
        return 0
    return len(self._book)


@internal
@view
def _book_scan(n: uint256, c: uint256) -> clearing.Scan:
    """
    @dev One pass over the first n orders of the book (storage, no copy in memory).
    """
    s: clearing.Scan = empty(clearing.Scan)
    s.crossing = c
    for i: uint256 in range(n, bound=MAX_ORDERS):
        s = clearing._scan_order(s, self._orders[self._book[i]][1])
    return s


@internal
@view
def _book_holds_at(n: uint256, p: uint256, x: uint256, y: uint256) -> bool:
    """
    @dev A(p) <= B(p) for the book (true at p = 0 by convention), read from storage.
    """
    if p == 0:
        return True
    demand: uint256 = 0
    supply: uint256 = 0
    for i: uint256 in range(n, bound=MAX_ORDERS):
        key: uint256 = self._orders[self._book[i]][1]
        limit: uint256 = key >> clearing.PRICE_SHIFT
        if key & clearing.BUY_BIT != 0:
            if limit >= p:
                demand += key & clearing.AMOUNT_MASK
        elif limit <= p:
            supply += key & clearing.AMOUNT_MASK
    return clearing._buy_side_holds(p, demand, supply, x, y, COLLATERAL_SCALE, DEBT_SCALE)


@internal
@view
def _book_find_crossing(n: uint256, x: uint256, y: uint256, hint: uint256) -> uint256:
    """
    @dev `clearing._find_crossing` over the book in storage: gallop from `hint` until the
         test A <= B changes, then bisect; at most 2 log2(|c - hint| + 1) + 2 passes.
    """
    assert x > 0 and y > 0, "clearing: pool is empty"
    lo: uint256 = 0  # A <= B holds at lo
    hi: uint256 = clearing.MAX_PRICE + 1  # ... and fails at hi
    start: uint256 = min(hint, clearing.MAX_PRICE)
    if self._book_holds_at(n, start, x, y):
        lo = start
        step: uint256 = 1
        for i: uint256 in range(clearing.SEARCH_STEPS):
            if lo >= clearing.MAX_PRICE or step > clearing.MAX_PRICE - lo:
                break
            if self._book_holds_at(n, lo + step, x, y):
                lo += step
                step *= 2
            else:
                hi = lo + step
                break
    else:
        hi = start
        step: uint256 = 1
        for i: uint256 in range(clearing.SEARCH_STEPS):
            if step >= hi:
                break  # lo = 0 holds by convention
            if self._book_holds_at(n, hi - step, x, y):
                lo = hi - step
                break
            hi -= step
            step *= 2
    for i: uint256 in range(clearing.SEARCH_STEPS):
        if hi - lo <= 1:
            break
        mid: uint256 = lo + (hi - lo) // 2
        if self._book_holds_at(n, mid, x, y):
            lo = mid
        else:
            hi = mid
    return lo


@internal
@view
def _pool_now() -> (uint256, uint256, uint256):
    """
    @dev (collateral reserve, debt reserve, reference price or 0 when invalid or absent).
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = staticcall IGuardedPool(POOL).reserves()
    reference: uint256 = 0
    if ORACLE != empty(address):
        valid_feeds: uint256 = 0
        reference, valid_feeds = staticcall IReferenceOracle(ORACLE).latest()
    return x, y, reference


@internal
@view
def _spot(x: uint256, y: uint256) -> uint256:
    if x == 0:
        return 0
    return y * DEBT_SCALE * clearing.WAD // (x * COLLATERAL_SCALE)


@internal
@view
def _settlement_of(round: uint256) -> clearing.Clearing:
    s: uint256[4] = self._settlements[round]
    return clearing.Clearing(
        price=s[0] & MASK_128,
        cut=s[3],
        volume=0,
        imbalance=0,
        pool_buys=False,
        pool_collateral=0,
        buy_marginal=s[1] & MASK_128,
        buy_marginal_fill=s[1] >> 128,
        sell_marginal=s[2] & MASK_128,
        sell_marginal_fill=s[2] >> 128,
        reference=0,
    )


@internal
@view
def _settled_payout(key: uint256, c: clearing.Clearing) -> (uint256, uint256, uint256):
    """
    @dev (filled, collateral out, debt out): a buy receives its fill and the escrow it did
         not spend (it pays ceil(fill * price) <= its escrow, as price <= limit); a sell
         receives floor(fill * price) and the collateral it did not sell.
    """
    filled: uint256 = clearing._fill(key, c)
    amount: uint256 = key & clearing.AMOUNT_MASK
    if key & clearing.BUY_BIT != 0:
        escrow: uint256 = clearing._debt(amount, key >> clearing.PRICE_SHIFT, COLLATERAL_SCALE, DEBT_SCALE, True)
        paid: uint256 = clearing._debt(filled, c.price, COLLATERAL_SCALE, DEBT_SCALE, True)
        return filled, filled, escrow - paid
    return filled, amount - filled, clearing._debt(filled, c.price, COLLATERAL_SCALE, DEBT_SCALE, False)


@internal
@view
def _escrow_of(key: uint256) -> (uint256, uint256):
    """
    @dev (collateral, debt) an order escrowed.
    """
    amount: uint256 = key & clearing.AMOUNT_MASK
    if key & clearing.BUY_BIT != 0:
        return 0, clearing._debt(amount, key >> clearing.PRICE_SHIFT, COLLATERAL_SCALE, DEBT_SCALE, True)
    return amount, 0


@internal
def _unbook(slot: uint256, is_public: bool):
    """
    @dev Swap-and-pop: the last order of the book takes the hole at `slot`.
    """
    last: uint256 = len(self._book) - 1
    if slot != last:
        moved: uint256 = self._book[last]
        self._book[slot] = moved
        w0: uint256 = self._orders[moved][0]
        self._orders[moved][0] = (w0 & ~(MASK_9 << SLOT_SHIFT)) | (slot << SLOT_SHIFT)
    self._book.pop()
    if is_public:
        self.public_orders -= 1


@internal
def _record_pool():
    """
    @dev Records the pool's reserves and this block when they differ from the record.
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = staticcall IGuardedPool(POOL).reserves()
    record: uint256 = self._pool_record
    if record & MASK_112 == x and (record >> RECORD_Y_SHIFT) & MASK_112 == y:
        return
    self._pool_record = x | (y << RECORD_Y_SHIFT) | (block.number << RECORD_BLOCK_SHIFT)
    log IReopeningAuction.PoolReservesRecorded(actor=msg.sender, reserve_collateral=x, reserve_debt=y)


@internal
@view
def _committed_value(key: uint256, reference: uint256) -> uint256:
    """
    @dev What an order ties up, in raw debt units: a buy its escrow, a sell its collateral at
         the reference price.
    """
    amount: uint256 = key & clearing.AMOUNT_MASK
    if key & clearing.BUY_BIT != 0:
        return clearing._debt(amount, key >> clearing.PRICE_SHIFT, COLLATERAL_SCALE, DEBT_SCALE, True)
    return clearing._debt(amount, reference, COLLATERAL_SCALE, DEBT_SCALE, False)


@internal
def _evict_smallest_public(key: uint256, by_order: uint256, round: uint256):
    """
    @dev Public slots are full: the public order of least committed value leaves the book
         (the earliest in book order among equals) if the new order `key` commits more;
         otherwise the post reverts. Values are taken at the reference price, or at the
         pool's spot price when the reference is invalid.
    """
    x: uint256 = 0
    y: uint256 = 0
    reference: uint256 = 0
    x, y, reference = self._pool_now()
    if reference == 0:
        reference = self._spot(x, y)
    new_value: uint256 = self._committed_value(key, reference)
    victim: uint256 = 0
    victim_slot: uint256 = MAX_ORDERS
    victim_value: uint256 = max_value(uint256)
    for i: uint256 in range(len(self._book), bound=MAX_ORDERS):
        order_id: uint256 = self._book[i]
        if self._orders[order_id][0] & DLP_BIT != 0:
            continue
        value: uint256 = self._committed_value(self._orders[order_id][1], reference)
        if value < victim_value:
            victim = order_id
            victim_slot = i
            victim_value = value
    assert victim_slot < MAX_ORDERS and new_value > victim_value, "ReopeningAuction: public order slots full"
    self._unbook(victim_slot, True)
    w0: uint256 = self._orders[victim][0]
    self._orders[victim][0] = w0 | EVICTED_BIT
    log IReopeningAuction.OrderEvicted(
        owner=convert(w0 & MASK_160, address), order_id=victim, round=round, by_order=by_order, actor=msg.sender,
        value=victim_value, by_value=new_value,
    )


@internal
def _pay(receiver: address, collateral: uint256, debt: uint256):
    if collateral > 0:
        assert extcall IERC20(COLLATERAL).transfer(receiver, collateral, default_return_value=True), "ReopeningAuction: transfer out failed"
    if debt > 0:
        assert extcall IERC20(DEBT).transfer(receiver, debt, default_return_value=True), "ReopeningAuction: transfer out failed"


@internal
@view
def _check_owner_live(w0: uint256):
    assert w0 != 0, "ReopeningAuction: unknown order"
    assert convert(w0 & MASK_160, address) == msg.sender, "ReopeningAuction: caller is not the order's owner"
    assert w0 & LIVE_BIT != 0, "ReopeningAuction: order already closed"


@internal
def _set_minimums(new_sell_collateral: uint256, new_buy_debt: uint256):
    assert new_sell_collateral >= MIN_MIN_ESCROW and new_sell_collateral <= MAX_MIN_ESCROW, "ReopeningAuction: minimum sell out of bounds"
    assert new_buy_debt >= MIN_MIN_ESCROW and new_buy_debt <= MAX_MIN_ESCROW, "ReopeningAuction: minimum buy out of bounds"
    log IReopeningAuction.MinimumsSet(
        actor=msg.sender, old_sell_collateral=self.min_sell_collateral, new_sell_collateral=new_sell_collateral,
        old_buy_debt=self.min_buy_debt, new_buy_debt=new_buy_debt,
    )
    self.min_sell_collateral = new_sell_collateral
    self.min_buy_debt = new_buy_debt


@internal
def _set_order_cap(new_max_orders: uint256, new_dlp_slots: uint256):
    assert new_max_orders >= MIN_ORDER_CAP and new_max_orders <= MAX_ORDERS, "ReopeningAuction: order cap out of bounds"
    assert new_dlp_slots <= new_max_orders // 2, "ReopeningAuction: dlp slots above half the cap"
    log IReopeningAuction.OrderCapSet(
        actor=msg.sender, old_max_orders=self.max_orders, new_max_orders=new_max_orders,
        old_dlp_slots=self.dlp_slots, new_dlp_slots=new_dlp_slots,
    )
    self.max_orders = new_max_orders
    self.dlp_slots = new_dlp_slots
