# pragma version ~=0.4.3
"""
@title Curve stableswap pool as a breaker venue
@custom:contract-name CurveStableswapVenue
@license MIT
@notice Reads a Curve stableswap(-ng) pool we do not control through `IVenue`, from the
        pool's own quotes (`get_dy`), so prices include the pool's fee. Values are in debt
        per whole collateral token, 18 decimals.
        The spot price is the quote for one whole collateral token, not `price_oracle`: the
        EMA lags a crash by its averaging time, and on pools mixing 18- and 6-decimal coins
        (USDe/USDC among them) the ng oracle is known to jump. `ema_price` exposes it for
        information only.
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
    @param pool The Curve pool.
    @param collateral_index Index of the collateral coin in the pool; debt_index the debt coin.
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
    """
    return self._spot()


@external
@view
def depth(band_bps: uint256) -> uint256:
    """
    @notice Debt value (18 decimals) received by the largest sell whose average price stays
            within band/2 of spot (see the contract notice).
    """
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
