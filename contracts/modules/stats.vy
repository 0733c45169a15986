# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Pure statistics helpers
@custom:contract-name stats
@notice Median and basis-point helpers shared by the reference oracle and the breaker.
        Stateless: importing contracts call them without `initializes`.
"""

# @dev Upper bound on the number of values a median is taken over (oracle feeds, depth samples).
MAX_VALUES: constant(uint256) = 32

# @dev One in basis points.
BPS: constant(uint256) = 10_000


@internal
@pure
def _median(values: DynArray[uint256, MAX_VALUES]) -> uint256:
    """
    @dev Median by insertion sort (n <= 32); the mean of the two middle values for even n.
    @param values The values, in any order; must not be empty.
    """
    n: uint256 = len(values)
    assert n > 0, "stats: median of nothing"
    xs: DynArray[uint256, MAX_VALUES] = values
    for i: uint256 in range(1, MAX_VALUES):
        if i >= n:
            break
        key: uint256 = xs[i]
        j: uint256 = i
        for _: uint256 in range(MAX_VALUES):
            if j == 0 or xs[j - 1] <= key:
                break
            xs[j] = xs[j - 1]
            j -= 1
        xs[j] = key
    if n % 2 == 1:
        return xs[n // 2]
    return (xs[n // 2 - 1] + xs[n // 2]) // 2


@internal
@pure
def _deviation_bps(observed: uint256, reference: uint256) -> uint256:
    """
    @dev |observed - reference| / reference in basis points (rounded down).
    """
    assert reference > 0, "stats: zero reference"
    diff: uint256 = observed - reference if observed > reference else reference - observed
    return diff * BPS // reference


@internal
@pure
def _drop_bps(high: uint256, now: uint256) -> uint256:
    """
    @dev (high - now) / high in basis points; zero when the price did not drop.
    """
    if high == 0 or now >= high:
        return 0
    return (high - now) * BPS // high


@internal
@pure
def _ratio_bps(amount: uint256, baseline: uint256) -> uint256:
    """
    @dev value / baseline in basis points; an empty baseline reads as full depth.
    """
    if baseline == 0:
        return BPS
    return amount * BPS // baseline
