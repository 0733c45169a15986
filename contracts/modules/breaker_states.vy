# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title The breaker's states as the uint256 words consumers receive
@custom:contract-name breaker_states
@notice `ICircuitBreaker.State` is a flag; on the ABI (`IBreakerConsumer.on_breaker_state`,
        `state()`) each member is the uint256 with its bit. Consumers keep that word in a
        packed storage slot and compare it with these constants on every swap, borrow or
        liquidation: converting it to the flag would add a bounds check to each read, and a
        .vyi cannot hold constants (vyper 0.4.3 compiles `convert(ICircuitBreaker.State.NORMAL,
        uint256)` in an expression, but refuses it as a `constant` initializer, so getters and
        packed-slot masks need the numbers written out).
        Stateless: importing contracts use the constants without `initializes`; a contract
        that serves them as getters lists them in its `exports:`.
"""

# @dev The member's bit of `ICircuitBreaker.State`, in its declaration order.
NORMAL: public(constant(uint256)) = 1
HALTED: public(constant(uint256)) = 2
COOLDOWN: public(constant(uint256)) = 4
AUCTION: public(constant(uint256)) = 8
