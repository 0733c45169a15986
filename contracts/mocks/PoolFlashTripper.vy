# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Flash-loan-shaped attacker on a guarded pool
@custom:contract-name PoolFlashTripper
@notice Inside one transaction: sells collateral into a guarded pool (or adds liquidity),
        calls the breaker, and trades back (or removes the liquidity), with tokens it holds as
        a flash loan would lend them. The breaker must refuse each bundle as evidence.
"""

from ethereum.ercs import IERC20

interface IBreaker:
    def arm_trip(market_id: uint256): nonpayable
    def trip(market_id: uint256): nonpayable
    def poke(market_id: uint256) -> bool: nonpayable

interface IPool:
    def swap(sell_collateral: bool, amount_in: uint256, min_amount_out: uint256, deadline: uint256) -> uint256: nonpayable
    def add_liquidity(max_collateral: uint256, max_debt: uint256, min_shares: uint256, deadline: uint256) -> uint256: nonpayable
    def remove_liquidity(shares: uint256, min_collateral: uint256, min_debt: uint256) -> (uint256, uint256): nonpayable
    def COLLATERAL() -> address: view
    def DEBT() -> address: view


ARM: constant(uint256) = 1
TRIP: constant(uint256) = 2
POKE: constant(uint256) = 4
DEADLINE: constant(uint256) = 2**64


@external
def approve(pool: address):
    """
    @notice Lets the pool pull both of its tokens from this contract.
    """
    extcall IERC20(staticcall IPool(pool).COLLATERAL()).approve(pool, max_value(uint256))
    extcall IERC20(staticcall IPool(pool).DEBT()).approve(pool, max_value(uint256))


@external
def sell_call_unwind(breaker: address, market_id: uint256, pool: address, collateral_in: uint256, calls: uint256):
    """
    @notice Sells `collateral_in`, makes the breaker calls (1 arm, 2 trip, 4 poke), buys back
            with everything the sell paid.
    """
    debt_out: uint256 = extcall IPool(pool).swap(True, collateral_in, 0, DEADLINE)
    self._call(breaker, market_id, calls)
    extcall IPool(pool).swap(False, debt_out, 0, DEADLINE)


@external
def add_call_remove(
    breaker: address, market_id: uint256, pool: address, collateral: uint256, debt: uint256, calls: uint256
):
    """
    @notice Adds liquidity, makes the breaker calls, removes it (fee-free in a guarded pool).
    """
    shares: uint256 = extcall IPool(pool).add_liquidity(collateral, debt, 0, DEADLINE)
    self._call(breaker, market_id, calls)
    extcall IPool(pool).remove_liquidity(shares, 0, 0)


@internal
def _call(breaker: address, market_id: uint256, calls: uint256):
    if calls & ARM != 0:
        extcall IBreaker(breaker).arm_trip(market_id)
    if calls & TRIP != 0:
        extcall IBreaker(breaker).trip(market_id)
    if calls & POKE != 0:
        extcall IBreaker(breaker).poke(market_id)
