# SPDX-License-Identifier: AGPL-3.0-only
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
# @dev A block start packed in one slot: price (128 bits) | depth (96) | block number (32).
DEPTH_SHIFT: constant(uint256) = 128
BLOCK_SHIFT: constant(uint256) = 224
MASK_96: constant(uint256) = 2**96 - 1
MASK_128: constant(uint256) = 2**128 - 1

# @dev Spot price, 18 decimals.
price: public(uint256)
# @dev Depth returned for any band, 18 decimals.
depth_value: public(uint256)
# @dev Slippage of any sell, in basis points (10000 = cannot fill).
slippage_bps: public(uint256)
# @dev Ring of packed block starts, written at the first change of a block (pre-warmed).
_history: uint256[HISTORY]
# @dev Next ring slot (low 8 bits); bit 16 keeps the word nonzero, so its writes stay cheap;
#      NO_HISTORY, read with the slot, so the flag costs the breaker's gas figures nothing.
_cursor: uint256
# @dev Set in `_cursor`: `settled_range` shows only this block's start, never complete, as a
#      venue without a block-start history does (`UniswapV2Venue`).
NO_HISTORY: constant(uint256) = 1 << 17


@deploy
def __init__(price: uint256, depth: uint256):
    self.price = price
    self.depth_value = depth
    for i: uint256 in range(HISTORY):
        self._history[i] = 1  # block 0 marks an empty slot; nonzero keeps later writes cheap
    self._cursor = 1 << 16


@external
def set_price(price: uint256):
    self._record_block_start()
    self.price = price


@external
def set_depth(depth: uint256):
    self._record_block_start()
    self.depth_value = depth


@external
def set_no_history(no_history: bool):
    if no_history:
        self._cursor |= NO_HISTORY
    else:
        self._cursor &= ~NO_HISTORY


@external
@view
def no_history() -> bool:
    return self._cursor & NO_HISTORY != 0


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
    cursor: uint256 = self._cursor
    if cursor & NO_HISTORY != 0:
        return low, high, False
    head: uint256 = cursor & 255
    for i: uint256 in range(HISTORY):
        entry: BlockStart = self._unpack(self._history[(head + HISTORY - 1 - i) % HISTORY])
        if entry.block <= since_block:
            return low, high, True
        low = min(low, entry.price)
        high = max(high, entry.price)
    return low, high, False


@internal
@pure
def _unpack(word: uint256) -> BlockStart:
    return BlockStart(block=word >> BLOCK_SHIFT, price=word & MASK_128, depth=(word >> DEPTH_SHIFT) & MASK_96)


@internal
@view
def _settled() -> BlockStart:
    last: BlockStart = self._unpack(self._history[((self._cursor & 255) + HISTORY - 1) % HISTORY])
    if last.block == block.number:
        return last
    return BlockStart(block=block.number, price=self.price, depth=self.depth_value)


@internal
def _record_block_start():
    cursor: uint256 = self._cursor
    head: uint256 = cursor & 255
    if self._history[(head + HISTORY - 1) % HISTORY] >> BLOCK_SHIFT == block.number:
        return
    assert self.price <= MASK_128 and self.depth_value <= MASK_96, "MockVenue: value too large to record"
    self._history[head] = (block.number << BLOCK_SHIFT) | (self.depth_value << DEPTH_SHIFT) | self.price
    self._cursor = (head + 1) % HISTORY | (1 << 16) | (cursor & NO_HISTORY)
