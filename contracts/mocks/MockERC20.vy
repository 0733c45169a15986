# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mock ERC-20 with settable decimals
@custom:contract-name MockERC20
@notice snekmate's ERC-20 with every function exported; the deployer is owner and minter,
        so tests mint with `mint(owner, amount)`.
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
