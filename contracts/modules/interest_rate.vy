# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Kinked interest-rate model (pure)
@custom:contract-name interest_rate
@license MIT
@notice The borrow rate as a function of utilisation, with one kink:

          U <= kink:  rate = base + slope_1 * U / kink
          U >  kink:  rate = base + slope_1 + slope_2 * (U - kink) / (1 - kink)

        U = borrows / (borrows + cash) (WAD); rates are per year (WAD), converted to per
        second by dividing by YEAR. Stateless: importing contracts call it without
        `initializes`.
"""

# @dev One in 18-decimal fixed point.
WAD: constant(uint256) = 10**18
# @dev One in basis points.
BPS: constant(uint256) = 10_000
# @dev Seconds in the 365-day year the annual rates are quoted over.
YEAR: constant(uint256) = 365 * 86_400


@internal
@pure
def _utilization(borrows: uint256, cash: uint256) -> uint256:
    """
    @dev borrows / (borrows + cash) in WAD; zero when nothing is borrowed.
    """
    if borrows == 0:
        return 0
    return borrows * WAD // (borrows + cash)


@internal
@pure
def _annual_rate(utilization: uint256, base: uint256, slope_1: uint256, slope_2: uint256, kink_bps: uint256) -> uint256:
    """
    @dev The kinked borrow rate per year (WAD) at `utilization` (WAD).
    @param kink_bps The kink in basis points; must be in (0, BPS).
    """
    kink: uint256 = kink_bps * WAD // BPS
    if utilization <= kink:
        return base + slope_1 * utilization // kink
    return base + slope_1 + slope_2 * (utilization - kink) // (WAD - kink)


@internal
@pure
def _per_second(annual_rate: uint256) -> uint256:
    """
    @dev An annual rate (WAD) as a per-second rate (WAD), rounded down.
    """
    return annual_rate // YEAR
