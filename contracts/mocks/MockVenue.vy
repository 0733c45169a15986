# pragma version ~=0.4.3
"""
@title Mock venue with settable price, depth and slippage
@custom:contract-name MockVenue
@notice Test double for `IVenue`: tests set what the breaker reads.
"""

from ..interfaces import IVenue

implements: IVenue

# @dev Spot price, 18 decimals.
price: public(uint256)
# @dev Depth returned for any band, 18 decimals.
depth_value: public(uint256)
# @dev Slippage of any sell, in basis points (10000 = cannot fill).
slippage_bps: public(uint256)


@deploy
def __init__(price: uint256, depth: uint256):
    self.price = price
    self.depth_value = depth


@external
def set_price(price: uint256):
    self.price = price


@external
def set_depth(depth: uint256):
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
