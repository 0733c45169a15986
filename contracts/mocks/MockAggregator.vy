# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mock Chainlink aggregator with settable rounds
@custom:contract-name MockAggregator
@notice Test double for `IAggregatorV3`: answer, timestamps and round ids are settable,
        so tests can make a feed stale, non-positive or incomplete.
"""

from ..interfaces import IAggregatorV3

implements: IAggregatorV3

decimals: public(uint8)
answer: public(int256)
updated_at: public(uint256)
round_id: public(uint80)
answered_in_round: public(uint80)
# @dev When set, `latestRoundData` reverts (a broken feed).
broken: public(bool)


@deploy
def __init__(decimals: uint8, answer: int256):
    self.decimals = decimals
    self._set(answer, block.timestamp)


@external
def set_answer(answer: int256):
    """
    @notice A new complete round, updated now.
    """
    self._set(answer, block.timestamp)


@external
def set_round(answer: int256, updated_at: uint256, round_id: uint80, answered_in_round: uint80):
    self.answer = answer
    self.updated_at = updated_at
    self.round_id = round_id
    self.answered_in_round = answered_in_round


@external
def set_broken(broken: bool):
    self.broken = broken


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    assert not self.broken, "MockAggregator: broken"
    return self.round_id, self.answer, self.updated_at, self.updated_at, self.answered_in_round


@internal
def _set(answer: int256, updated_at: uint256):
    self.round_id += 1
    self.answer = answer
    self.updated_at = updated_at
    self.answered_in_round = self.round_id
