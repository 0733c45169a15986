# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Mock Chainlink-style aggregator whose round ids do not fit uint80
@custom:contract-name MockWideRoundAggregator
@notice Test double: `latestRoundData` returns round ids as full 256-bit words, so a test can
        hand the reference oracle a round id above 2**80 - 1 with an otherwise fresh answer.
"""

# @dev Decimals of the answer.
decimals: public(uint8)
# @dev The answer, its update time and the round ids returned by `latestRoundData`.
answer: public(int256)
updated_at: public(uint256)
round_id: public(uint256)
answered_in_round: public(uint256)


@deploy
def __init__(decimals: uint8, answer: int256, round_id: uint256):
    """
    @param decimals Decimals of the answer.
    @param answer The answer, updated now.
    @param round_id The round id (and answered-in round) reported.
    """
    self.decimals = decimals
    self.answer = answer
    self.updated_at = block.timestamp
    self.round_id = round_id
    self.answered_in_round = round_id


@external
@view
def latestRoundData() -> (uint256, int256, uint256, uint256, uint256):
    return self.round_id, self.answer, self.updated_at, self.updated_at, self.answered_in_round
