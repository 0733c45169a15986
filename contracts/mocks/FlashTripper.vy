# pragma version ~=0.4.3
"""
@title Flash-loan-shaped attacker
@custom:contract-name FlashTripper
@notice Distorts a mock venue, arms and confirms a rule A trip, and restores the venue, all
        inside one transaction: what a flash loan can do. The breaker must refuse it.
"""

interface IBreaker:
    def arm_trip(market_id: uint256): nonpayable
    def trip(market_id: uint256): nonpayable

interface IMockVenue:
    def price() -> uint256: view
    def depth_value() -> uint256: view
    def set_price(price: uint256): nonpayable
    def set_depth(depth: uint256): nonpayable


@external
def attack(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256):
    old_price: uint256 = staticcall IMockVenue(venue).price()
    old_depth: uint256 = staticcall IMockVenue(venue).depth_value()
    extcall IMockVenue(venue).set_price(price)
    extcall IMockVenue(venue).set_depth(depth)
    extcall IBreaker(breaker).arm_trip(market_id)
    extcall IBreaker(breaker).trip(market_id)
    extcall IMockVenue(venue).set_price(old_price)
    extcall IMockVenue(venue).set_depth(old_depth)
