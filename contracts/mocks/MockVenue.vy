# pragma version ~=0.4.3
"""
@title Mock venue with settable price, depth and slippage
@custom:contract-name MockVenue
@notice Test double for `IVenue`: tests set what the breaker reads. Like a guarded pool, it
        keeps its block starts: the first setter call of a block records the price and
        depth the block opened with, so `settled_*` read what the previous block left and a
        change made and undone inside one block is never seen by them.
"""

from ..interfaces import IVenue

implements: IVenue


struct BlockStart:
    block: uint256
    price: uint256
    depth: uint256


# @dev Block starts kept for `settled_range`.
HISTORY: constant(uint256) = 32

# @dev Spot price, 18 decimals.
price: public(uint256)
# @dev Depth returned for any band, 18 decimals.
depth_value: public(uint256)
# @dev Slippage of any sell, in basis points (10000 = cannot fill).
slippage_bps: public(uint256)
# @dev Ring of block starts (block number, price, depth), written at the first change of a block.
history: public(BlockStart[HISTORY])
# @dev Next ring slot, and block starts written so far.
head: public(uint256)
count: public(uint256)


@deploy
def __init__(price: uint256, depth: uint256):
    self.price = price
    self.depth_value = depth


@external
def set_price(price: uint256):
    self._record_block_start()
    self.price = price


@external
def set_depth(depth: uint256):
    self._record_block_start()
    self.depth_value = depth


@external
def set_slippage_bps(slippage_bps: uint256):
    assert slippage_bps <= 10_000, "MockVenue: slippage above 100%"
    self.slippage_bps = slippage_bps


@external
@view
def spot_price() -> uint256:
    return self.price


@external
@view
def depth(band_bps: uint256) -> uint256:
    return self.depth_value


@external
@view
def exec_price(notional: uint256) -> uint256:
    return self.price * (10_000 - self.slippage_bps) // 10_000


@external
@view
def settled_spot_price() -> uint256:
    return self._settled().price


@external
@view
def settled_depth(band_bps: uint256) -> uint256:
    return self._settled().depth


@external
@view
def settled_range(since_block: uint256) -> (uint256, uint256, bool):
    now: BlockStart = self._settled()
    low: uint256 = now.price
    high: uint256 = now.price
    complete: bool = False
    n: uint256 = self.count
    for i: uint256 in range(HISTORY):
        if i >= n:
            complete = True
            break
        entry: BlockStart = self.history[(self.head + HISTORY - 1 - i) % HISTORY]
        if entry.block <= since_block:
            complete = True
            break
        low = min(low, entry.price)
        high = max(high, entry.price)
    return low, high, complete


@internal
@view
def _settled() -> BlockStart:
    if self.count > 0:
        last: BlockStart = self.history[(self.head + HISTORY - 1) % HISTORY]
        if last.block == block.number:
            return last
    return BlockStart(block=block.number, price=self.price, depth=self.depth_value)


@internal
def _record_block_start():
    if self.count > 0 and self.history[(self.head + HISTORY - 1) % HISTORY].block == block.number:
        return
    self.history[self.head] = BlockStart(block=block.number, price=self.price, depth=self.depth_value)
    self.head = (self.head + 1) % HISTORY
    self.count = min(self.count + 1, HISTORY)
