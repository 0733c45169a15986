# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Flash-loan-shaped attacker
@custom:contract-name FlashTripper
@notice Distorts a mock venue, calls the breaker and restores the venue, all inside one
        transaction: what a flash loan (or a bundle around one call) can do. `attack` arms
        and confirms in one transaction; `arm_only`, `trip_only` and `poke_only` are the
        bundles an attacker sends in separate blocks. The breaker must refuse each as
        evidence.
"""

interface IBreaker:
    def arm_trip(market_id: uint256): nonpayable
    def trip(market_id: uint256): nonpayable
    def poke(market_id: uint256) -> bool: nonpayable

interface IMockVenue:
    def price() -> uint256: view
    def depth_value() -> uint256: view
    def set_price(price: uint256): nonpayable
    def set_depth(depth: uint256): nonpayable


ARM: constant(uint256) = 1
TRIP: constant(uint256) = 2
POKE: constant(uint256) = 4


@external
def attack(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256):
    """
    @notice Distorts, arms, confirms and restores in one transaction.
    """
    self._bundle(breaker, market_id, venue, price, depth, ARM | TRIP)


@external
def arm_only(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256):
    """
    @notice Distorts, arms and restores in one transaction.
    """
    self._bundle(breaker, market_id, venue, price, depth, ARM)


@external
def trip_only(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256):
    """
    @notice Distorts, confirms a trip and restores in one transaction.
    """
    self._bundle(breaker, market_id, venue, price, depth, TRIP)


@external
def poke_only(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256):
    """
    @notice Distorts, pokes (an observation and, when due, a depth sample) and restores.
    """
    self._bundle(breaker, market_id, venue, price, depth, POKE)


@internal
def _bundle(breaker: address, market_id: uint256, venue: address, price: uint256, depth: uint256, calls: uint256):
    old_price: uint256 = staticcall IMockVenue(venue).price()
    old_depth: uint256 = staticcall IMockVenue(venue).depth_value()
    extcall IMockVenue(venue).set_price(price)
    extcall IMockVenue(venue).set_depth(depth)
    if calls & ARM != 0:
        extcall IBreaker(breaker).arm_trip(market_id)
    if calls & TRIP != 0:
        extcall IBreaker(breaker).trip(market_id)
    if calls & POKE != 0:
        extcall IBreaker(breaker).poke(market_id)
    extcall IMockVenue(venue).set_price(old_price)
    extcall IMockVenue(venue).set_depth(old_depth)
