"""Small helpers shared by the tests: time travel and venue moves."""

from __future__ import annotations

from decimal import Decimal

from ape import chain

from keeper.params import BY_NAME

WAD = 10**18
MAX_UINT256 = 2**256 - 1  # an unlimited ERC-20 approval
DEPTH = 8_000_000 * WAD
LCE = 20_000  # an attested exposure above the default critical level of 10,000 bps
HOLD_BLOCKS = BY_NAME["hold_blocks"].default


def advance(seconds: int) -> None:
    """Move the next block's timestamp forward and mine it."""
    chain.pending_timestamp += seconds
    chain.mine()


def move_venue(
    venue,
    sender,
    price: float | None = None,
    depth_ratio: float | None = None,
    slippage_bps: int | None = None,
) -> None:
    """Moves the mock venue, then mines a block: the breaker reads the venue as a block opens
    (views at the latest block see its start), so the move is evidence from the next block."""
    if price is not None:
        venue.set_price(int(Decimal(str(price)) * WAD), sender=sender)
    if depth_ratio is not None:
        venue.set_depth(int(Decimal(str(depth_ratio)) * DEPTH), sender=sender)
    if slippage_bps is not None:
        venue.set_slippage_bps(slippage_bps, sender=sender)
    chain.mine()


def crash(venue, sender, price: float = 0.90, depth_ratio: float = 0.10) -> None:
    """A rule A crash: the venue dislocates 10% below the reference with 10% of its depth, and
    stays there over rule A's hold (`hold_blocks` block starts), as a real crash does."""
    move_venue(venue, sender, price=price, depth_ratio=depth_ratio)
    hold()


def hold() -> None:
    """Mines rule A's default hold of blocks: a dislocation in place now has then been seen at
    every block start the confirmation checks."""
    chain.mine(HOLD_BLOCKS)


def recover(venue, sender) -> None:
    move_venue(venue, sender, price=1.0, depth_ratio=1.0, slippage_bps=0)


def trip_rule_a(breaker, market_id, venue, sender) -> None:
    crash(venue, sender)
    breaker.arm_trip(market_id, sender=sender)
    breaker.trip(market_id, sender=sender)
