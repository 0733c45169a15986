# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title MockBreakerMorphoOracle: Morpho Blue's IOracle for one breaker market (analysis only)
@custom:contract-name MockBreakerMorphoOracle
@license MIT
@notice `price()` in Morpho's scale (collateral priced in loan token, times 1e36, corrected
        for decimals): the reference oracle's price while the cached breaker state is NORMAL.
        Otherwise, by construction:
          - frozen mode: the breaker's frozen price, what a Chainlink-shaped feed that serves
            the frozen price gives behind Morpho's Chainlink adapter;
          - fail-closed mode: it reverts, so every Morpho call that reads the oracle (borrow,
            withdrawCollateral, liquidate) reverts while the market is halted.
        The Morpho Blue tests use both to show which one a Morpho market can be given.
"""

from ..interfaces import IBreakerConsumer
from ..interfaces import IReferenceOracle
from ..modules import breaker_states

implements: IBreakerConsumer

# @dev Most decimals a token may have.
MAX_TOKEN_DECIMALS: constant(uint256) = 18

# @dev The breaker allowed to push state, and its market.
BREAKER: public(immutable(address))
MARKET_ID: public(immutable(uint256))
# @dev The reference oracle (18-decimal prices of one collateral unit in loan units).
ORACLE: public(immutable(address))
# @dev 10**(18 + loan decimals - collateral decimals): an 18-decimal price times it is Morpho's.
SCALE: public(immutable(uint256))
# @dev True: revert while not NORMAL; False: serve the frozen price.
FAIL_CLOSED: public(immutable(bool))

# @dev Breaker state cached from the last push (HALTED until the first).
state: public(uint256)
# @dev The breaker's frozen price from the last push (18 decimals).
frozen_price: public(uint256)


@deploy
def __init__(breaker: address, market_id: uint256, oracle: address, loan_decimals: uint256,
             collateral_decimals: uint256, fail_closed: bool):
    """
    @param breaker The CircuitBreaker that pushes the market's state.
    @param market_id The breaker market.
    @param oracle The reference oracle.
    @param loan_decimals Decimals of the Morpho market's loan token.
    @param collateral_decimals Decimals of its collateral token.
    @param fail_closed Revert instead of serving the frozen price while not NORMAL.
    """
    assert loan_decimals <= MAX_TOKEN_DECIMALS and collateral_decimals <= MAX_TOKEN_DECIMALS, "MockBreakerMorphoOracle: decimals above 18"
    BREAKER = breaker
    MARKET_ID = market_id
    ORACLE = oracle
    SCALE = 10 ** (MAX_TOKEN_DECIMALS + loan_decimals - collateral_decimals)
    FAIL_CLOSED = fail_closed
    self.state = breaker_states.HALTED


@external
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    """
    @notice The breaker pushes every stored transition of its market here.
    @param market_id The breaker market.
    @param state The breaker's State flag value.
    @param frozen_price The last valid reference price captured at the trip.
    """
    assert msg.sender == BREAKER, "MockBreakerMorphoOracle: caller is not the breaker"
    assert market_id == MARKET_ID, "MockBreakerMorphoOracle: wrong market"
    self.state = state
    self.frozen_price = frozen_price


@external
@view
def price() -> uint256:
    """
    @notice Morpho's IOracle: one collateral unit in loan units, scaled by 1e36.
    """
    if self.state == breaker_states.NORMAL:
        return staticcall IReferenceOracle(ORACLE).price() * SCALE
    assert not FAIL_CLOSED, "MockBreakerMorphoOracle: market halted"
    return self.frozen_price * SCALE
