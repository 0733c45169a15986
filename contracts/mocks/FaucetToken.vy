# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title ERC-20 with an open faucet, for seeding a local mainnet-like chain
@custom:contract-name FaucetToken
@notice snekmate's ERC-20 whose name, symbol and decimals are immutables (so its runtime
        code can be copied to a mainnet address as is) and whose `faucet` mints to anyone.
        Only the offline fork upstream uses it, to stand in for USDe, USDC and USDT with their
        real decimals; the fork tests themselves move tokens only from whales, as on mainnet.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
)


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@external
def faucet(to: address, amount: uint256):
    erc20._mint(to, amount)
