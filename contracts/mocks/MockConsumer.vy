# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mock breaker consumer
@custom:contract-name MockConsumer
@notice Records the last notification; can be told to revert or to re-enter the breaker.
"""

from ..interfaces import IBreakerConsumer

implements: IBreakerConsumer

last_market_id: public(uint256)
last_state: public(uint256)
last_frozen_price: public(uint256)
notifications: public(uint256)
# @dev When set, every notification reverts.
reverting: public(bool)
# @dev When set, a notification calls back into this address (a reentrancy attempt).
reenter_target: public(address)
reenter_calldata: public(Bytes[100])


@external
def set_reverting(reverting: bool):
    self.reverting = reverting


@external
def set_reenter(target: address, calldata: Bytes[100]):
    self.reenter_target = target
    self.reenter_calldata = calldata


@external
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    assert not self.reverting, "MockConsumer: refusing notification"
    self.last_market_id = market_id
    self.last_state = state
    self.last_frozen_price = frozen_price
    self.notifications += 1
    if self.reenter_target != empty(address):
        raw_call(self.reenter_target, self.reenter_calldata)
