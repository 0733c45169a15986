# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mock Curve pool with a constant-product quote
@custom:contract-name MockCurvePool
@notice Test double for the Curve adapter: `get_dy` follows x*y=k over settable balances
        (token units) minus a fee, so the adapter's search can be checked against a closed form.
        The oracles (`price_oracle`, `D_oracle`) and the invariant (`get_virtual_price *
        totalSupply`) are set by the test.
"""

coins: public(address[2])
balances: public(uint256[2])
fee_bps: public(uint256)
ema: public(uint256)
totalSupply: public(uint256)
D_oracle: public(uint256)


@deploy
def __init__(coin0: address, coin1: address, balance0: uint256, balance1: uint256, fee_bps: uint256):
    self.coins = [coin0, coin1]
    self.balances = [balance0, balance1]
    self.fee_bps = fee_bps
    self.ema = 10**18
    self.totalSupply = 10**24
    self.D_oracle = 10**24


@external
def set_ema(ema: uint256):
    self.ema = ema


@external
def set_invariants(supply: uint256, d_oracle: uint256):
    self.totalSupply = supply
    self.D_oracle = d_oracle


@external
@view
def get_virtual_price() -> uint256:
    return 10**18


@external
def set_balances(balance0: uint256, balance1: uint256):
    self.balances = [balance0, balance1]


@external
@view
def get_dy(i: int128, j: int128, dx: uint256) -> uint256:
    x: uint256 = self.balances[convert(i, uint256)]
    y: uint256 = self.balances[convert(j, uint256)]
    dy: uint256 = y * dx // (x + dx)
    return dy * (10_000 - self.fee_bps) // 10_000


@external
@view
def price_oracle(i: uint256) -> uint256:
    return self.ema
