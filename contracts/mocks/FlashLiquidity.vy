# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Flash-liquidity auction settler
@custom:contract-name FlashLiquidity
@notice Changes a guarded pool's liquidity, settles its reopening auction and undoes the
        change, all inside one transaction: what a flash loan (or an LP's own shares) can do
        to steer a clearing price. The auction must not clear against that liquidity.
"""

from ethereum.ercs import IERC20

interface IPool:
    def add_liquidity(max_collateral: uint256, max_debt: uint256, min_shares: uint256, deadline: uint256) -> uint256: nonpayable
    def remove_liquidity(shares: uint256, min_collateral: uint256, min_debt: uint256) -> (uint256, uint256): nonpayable
    def COLLATERAL() -> address: view
    def DEBT() -> address: view

interface IAuction:
    def settle(crossing: uint256) -> uint256: nonpayable


@external
def deposit(pool: address, max_collateral: uint256, max_debt: uint256) -> uint256:
    """
    @notice Adds liquidity from this contract's tokens and keeps the shares.
    """
    self._approve(pool)
    return extcall IPool(pool).add_liquidity(max_collateral, max_debt, 0, max_value(uint256))


@external
def add_settle_remove(pool: address, auction: address, max_collateral: uint256, max_debt: uint256, crossing: uint256) -> uint256:
    """
    @notice Adds liquidity, settles, removes the same shares; returns what `settle` returned.
    """
    self._approve(pool)
    shares: uint256 = extcall IPool(pool).add_liquidity(max_collateral, max_debt, 0, max_value(uint256))
    price: uint256 = extcall IAuction(auction).settle(crossing)
    extcall IPool(pool).remove_liquidity(shares, 0, 0)
    return price


@external
def remove_settle_add(pool: address, auction: address, shares: uint256, crossing: uint256) -> uint256:
    """
    @notice Removes `shares` of liquidity, settles, adds the tokens back; returns what `settle` returned.
    """
    self._approve(pool)
    taken_collateral: uint256 = 0
    taken_debt: uint256 = 0
    taken_collateral, taken_debt = extcall IPool(pool).remove_liquidity(shares, 0, 0)
    price: uint256 = extcall IAuction(auction).settle(crossing)
    extcall IPool(pool).add_liquidity(taken_collateral, taken_debt, 0, max_value(uint256))
    return price


@external
def settle_twice(auction: address, crossing: uint256):
    """
    @notice Two settles in one transaction.
    """
    extcall IAuction(auction).settle(crossing)
    extcall IAuction(auction).settle(crossing)


@internal
def _approve(pool: address):
    extcall IERC20(staticcall IPool(pool).COLLATERAL()).approve(pool, max_value(uint256))
    extcall IERC20(staticcall IPool(pool).DEBT()).approve(pool, max_value(uint256))
