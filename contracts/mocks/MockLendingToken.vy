# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mintable ERC-20 with settable decimals, for lending tests
@custom:contract-name MockLendingToken
@notice snekmate's ERC-20 plus `mint_for_testing`, which anyone may call: tests mint what
        each actor needs (6 decimals for a USDC-like borrowable asset, 18 for collateral).
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@external
def mint_for_testing(receiver: address, amount: uint256):
    """
    @notice Mints `amount` to `receiver`; unrestricted (test double only).
    """
    erc20._mint(receiver, amount)
