# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Curve stableswap pool as a breaker venue
@custom:contract-name CurveStableswapVenue
@license MIT
@notice Reads a Curve stableswap(-ng) pool we do not control through `IVenue`, from the
        pool's own quotes (`get_dy`), so prices include the pool's fee. Values are in debt
        per whole collateral token, 18 decimals.
        The spot price is the quote for one whole collateral token (information, and the
        reference for `exec_price`).

        Evidence (`settled_*`): the pool's own manipulation-resistant oracle. Curve's
        `price_oracle` is an exponential moving average whose update weighs the last traded
        price by the time since the previous update: a trade made in this block has weight 0
        until the next block, so nothing inside a block moves it, and a distortion moves it
        only by the share of the averaging time it survives. `settled_spot_price` and
        `settled_range` read it (the range is the EMA alone, complete: the EMA already holds
        the path). It lags a crash by its averaging time, which makes rule A on a Curve venue
        slower but not fakeable; on ng pools mixing 18- and 6-decimal coins the oracle is
        known to jump, which governance weighs when it registers such a pool.
        `settled_depth` is the same search scaled by D_oracle / D (stableswap-ng's EMA of the
        invariant over the invariant now, from `get_virtual_price * totalSupply`): liquidity
        added or removed inside the block scales depth and D alike, so the ratio takes it
        back out.
        Depth within a band: stableswap exposes no closed form, so `depth` searches (bounded
        bisection, DEPTH_STEPS quotes) for the sell whose average price is band/2 below spot:
        where price impact grows linearly with size, that is the sell that moves the marginal
        price by the band. R_L compares a venue with its own history, so the definition only
        has to be consistent for one venue.
@custom:kill Stateless: governance stops using it by registering another venue.
"""

from ..interfaces import IVenue

implements: IVenue


interface ICurvePool:
    def get_dy(i: int128, j: int128, dx: uint256) -> uint256: view
    def coins(i: uint256) -> address: view
    def balances(i: uint256) -> uint256: view
    def price_oracle(i: uint256) -> uint256: view
    def D_oracle() -> uint256: view
    def get_virtual_price() -> uint256: view
    def totalSupply() -> uint256: view

interface IERC20Decimals:
    def decimals() -> uint8: view


BPS: constant(uint256) = 10_000
WAD: constant(uint256) = 10**18
# @dev Bisection steps of `depth` (each one `get_dy` call).
DEPTH_STEPS: constant(uint256) = 24

# @dev The pool, the coin indices, and the scaling of each side to 18 decimals.
POOL: public(immutable(address))
I: public(immutable(int128))
J: public(immutable(int128))
COLLATERAL_UNIT: immutable(uint256)
DEBT_SCALE: immutable(uint256)


@deploy
def __init__(pool: address, collateral_index: uint256, debt_index: uint256):
    """
    @dev Reads both coins' decimals once; reverts when the indices are equal or not below 8, or either coin has
         more than 18 decimals. Anyone may deploy; the venue has no owner.
    @param pool The Curve pool.
    @param collateral_index Index of the collateral coin in the pool.
    @param debt_index Index of the debt coin in the pool.
    """
    assert collateral_index != debt_index and collateral_index < 8 and debt_index < 8, "CurveStableswapVenue: bad coin indices"
    collateral_decimals: uint256 = convert(
        staticcall IERC20Decimals(staticcall ICurvePool(pool).coins(collateral_index)).decimals(), uint256
    )
    debt_decimals: uint256 = convert(
        staticcall IERC20Decimals(staticcall ICurvePool(pool).coins(debt_index)).decimals(), uint256
    )
    assert collateral_decimals <= 18 and debt_decimals <= 18, "CurveStableswapVenue: more than 18 decimals"
    POOL = pool
    I = convert(collateral_index, int128)
    J = convert(debt_index, int128)
    COLLATERAL_UNIT = 10**collateral_decimals
    DEBT_SCALE = 10 ** (18 - debt_decimals)


@external
@view
def spot_price() -> uint256:
    """
    @notice The pool's quote for one whole collateral token, 18 decimals.
    @dev Anyone may call; reverts when the pool quotes zero.
    @return The spot price, 18 decimals.
    """
    return self._spot()


@external
@view
def depth(band_bps: uint256) -> uint256:
    """
    @notice Debt value (18 decimals) received by the largest sell whose average price stays
            within band/2 of spot (see the contract notice).
    @dev Anyone may call; reverts unless 0 < `band_bps` < 10_000.
    @param band_bps The price band, basis points.
    @return The debt value, 18 decimals.
    """
    return self._depth(band_bps)


@external
@view
def settled_spot_price() -> uint256:
    """
    @notice The collateral's price in the debt coin from the pool's EMA oracle, 18 decimals.
    @dev Anyone may call; reverts when the oracle reads zero for either coin.
    @return The settled (EMA) price, 18 decimals.
    """
    return self._ema()


@external
@view
def settled_depth(band_bps: uint256) -> uint256:
    """
    @notice `depth(band_bps)` scaled by D_oracle / D (see the contract notice).
    @dev Anyone may call; reverts as `depth` does, and when the pool is empty.
    @param band_bps The price band, basis points.
    @return The settled debt value, 18 decimals.
    """
    d_now: uint256 = staticcall ICurvePool(POOL).get_virtual_price() * staticcall ICurvePool(POOL).totalSupply() // WAD
    assert d_now > 0, "CurveStableswapVenue: pool is empty"
    return self._depth(band_bps) * staticcall ICurvePool(POOL).D_oracle() // d_now


@external
@view
def settled_range(since_block: uint256) -> (uint256, uint256, bool):
    """
    @notice (EMA, EMA, True): the EMA already weighs every block since its last update.
    @param since_block A past block number (unused: see the contract notice).
    @dev Anyone may call; reverts when the oracle reads zero for either coin.
    @return (EMA price, EMA price, True), 18 decimals.
    """
    ema: uint256 = self._ema()
    return ema, ema, True


@internal
@view
def _ema() -> uint256:
    """
    @dev price_oracle(k - 1) prices coin k in coin 0 (18 decimals); coin 0 is 1.
    """
    collateral: uint256 = WAD
    debt: uint256 = WAD
    if I > 0:
        collateral = staticcall ICurvePool(POOL).price_oracle(convert(I, uint256) - 1)
    if J > 0:
        debt = staticcall ICurvePool(POOL).price_oracle(convert(J, uint256) - 1)
    assert collateral > 0 and debt > 0, "CurveStableswapVenue: oracle reads zero"
    return collateral * WAD // debt


@internal
@view
def _depth(band_bps: uint256) -> uint256:
    assert band_bps > 0 and band_bps < BPS, "CurveStableswapVenue: band out of range"
    spot: uint256 = self._spot()
    min_avg_price: uint256 = spot * (2 * BPS - band_bps) // (2 * BPS)
    # Upper bound: a sell worth the pool's whole debt balance at spot.
    debt_balance: uint256 = staticcall ICurvePool(POOL).balances(convert(J, uint256)) * DEBT_SCALE
    lo: uint256 = 0
    hi: uint256 = debt_balance * COLLATERAL_UNIT // spot
    if self._avg_price(hi) >= min_avg_price:
        return self._quote(hi)
    for _: uint256 in range(DEPTH_STEPS):
        mid: uint256 = (lo + hi) // 2
        if mid == lo:
            break
        if self._avg_price(mid) >= min_avg_price:
            lo = mid
        else:
            hi = mid
    return self._quote(lo)


@external
@view
def exec_price(notional: uint256) -> uint256:
    """
    @notice Average price of a sell of collateral worth `notional` at spot, 18 decimals.
    @dev Anyone may call. A sell too small to buy one unit of collateral gets the spot price.
    @param notional The sell's size in debt units at spot, 18 decimals.
    @return The average execution price, 18 decimals.
    """
    spot: uint256 = self._spot()
    dx: uint256 = notional * COLLATERAL_UNIT // spot
    if dx == 0:
        return spot
    return self._avg_price(dx)


@external
@view
def ema_price() -> uint256:
    """
    @notice The pool's EMA oracle for the collateral in coin 0 (information only; see notice).
    @dev Anyone may call.
    @return The pool's `price_oracle(0)` (coin 1 priced in coin 0), 18 decimals.
    """
    return staticcall ICurvePool(POOL).price_oracle(0)


@internal
@view
def _spot() -> uint256:
    spot: uint256 = self._quote(COLLATERAL_UNIT)
    assert spot > 0, "CurveStableswapVenue: pool quotes zero"
    return spot


@internal
@view
def _quote(dx: uint256) -> uint256:
    """
    @dev Debt received for `dx` collateral (token units), scaled to 18 decimals.
    """
    if dx == 0:
        return 0
    return staticcall ICurvePool(POOL).get_dy(I, J, dx) * DEBT_SCALE


@internal
@view
def _avg_price(dx: uint256) -> uint256:
    return self._quote(dx) * COLLATERAL_UNIT // dx
