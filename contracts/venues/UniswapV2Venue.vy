# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Uniswap V2 pair as a breaker venue
@custom:contract-name UniswapV2Venue
@license MIT
@notice Reads a Uniswap V2 pair we do not control through `IVenue`. Prices and values are in
        the debt token per whole collateral token, scaled to 18 decimals whatever the tokens'
        decimals. Everything derives from the reserves (x*y=k), so it is exact for the pair
        and costs one `getReserves` call.

        Evidence (`settled_*`): the reserves the previous block left, the same closing state
        the pair's cumulative prices integrate. The pair stamps its reserves with the
        timestamp of its last change (`blockTimestampLast`): when that is before this block,
        the reserves now are the block's opening ones; when the pair already changed in this
        block, the opening reserves are gone from the chain and the settled views revert
        (the caller retries at the top of a later block), so an earlier transaction of the
        block cannot hand the breaker a distorted pair (on a chain where blocks can share a
        timestamp, an earlier block of the same second counts as this one: the read reverts,
        it is never stale). `settled_range` has no history to read: it covers this block's
        start alone and says so (`complete` false), so the breaker confirms rule A on a pair
        only in the block right after the arm, and V_P's high comes from `poke` observations.
@custom:kill Stateless: governance stops using it by registering another venue.
"""

from ..interfaces import IVenue

implements: IVenue


interface IUniswapV2Pair:
    def getReserves() -> (uint112, uint112, uint32): view
    def token0() -> address: view
    def token1() -> address: view

interface IERC20Decimals:
    def decimals() -> uint8: view


# @dev One in basis points, and the Uniswap V2 swap fee (0.3%) as the share kept.
BPS: constant(uint256) = 10_000
FEE_KEPT_BPS: constant(uint256) = 9_970
WAD: constant(uint256) = 10**18

# @dev The pair, which side is collateral, and the factors that scale each side to 18 decimals.
PAIR: public(immutable(address))
COLLATERAL: public(immutable(address))
COLLATERAL_IS_TOKEN0: immutable(bool)
COLLATERAL_SCALE: immutable(uint256)
DEBT_SCALE: immutable(uint256)


@deploy
def __init__(pair: address, collateral: address):
    """
    @dev Reads the pair's tokens and decimals once; reverts when `collateral` is not one of the pair's tokens or
         either token has more than 18 decimals. Anyone may deploy; the venue has no owner.
    @param pair The Uniswap V2 pair.
    @param collateral The pair's token that is the market's collateral; the other is debt.
    """
    token0: address = staticcall IUniswapV2Pair(pair).token0()
    token1: address = staticcall IUniswapV2Pair(pair).token1()
    assert collateral == token0 or collateral == token1, "UniswapV2Venue: collateral not in pair"
    debt: address = token1 if collateral == token0 else token0
    collateral_decimals: uint256 = convert(staticcall IERC20Decimals(collateral).decimals(), uint256)
    debt_decimals: uint256 = convert(staticcall IERC20Decimals(debt).decimals(), uint256)
    assert collateral_decimals <= 18 and debt_decimals <= 18, "UniswapV2Venue: more than 18 decimals"
    PAIR = pair
    COLLATERAL = collateral
    COLLATERAL_IS_TOKEN0 = collateral == token0
    COLLATERAL_SCALE = 10 ** (18 - collateral_decimals)
    DEBT_SCALE = 10 ** (18 - debt_decimals)


@external
@view
def spot_price() -> uint256:
    """
    @notice Marginal price y / x, 18 decimals. Anyone may call; reverts on an empty pair.
    @return The debt per collateral price, 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._reserves()
    return y * WAD // x


@external
@view
def depth(band_bps: uint256) -> uint256:
    """
    @notice Debt value that sellers take out while the price falls by `band_bps`:
            with y' = y * sqrt(1 - band), depth = y - y'. Anyone may call.
    @dev Reverts when `band_bps` is not below 100% or the pair is empty.
    @param band_bps The price fall, basis points (below 10_000).
    @return The debt value, 18 decimals.
    """
    assert band_bps < BPS, "UniswapV2Venue: band must be below 100%"
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._reserves()
    root: uint256 = isqrt((BPS - band_bps) * WAD * WAD // BPS)
    return y * (WAD - root) // WAD


@external
@view
def exec_price(notional: uint256) -> uint256:
    """
    @notice Average price of a sell of collateral worth `notional` at spot, after the 0.3% fee. Anyone may call.
    @dev A sell too small to buy one unit of collateral gets the spot price. Reverts on an empty pair.
    @param notional The sell's size in debt units at spot, 18 decimals.
    @return The average execution price, 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._reserves()
    dx: uint256 = notional * x // y
    if dx == 0:
        return y * WAD // x
    dy: uint256 = y * dx * FEE_KEPT_BPS // (x * BPS + dx * FEE_KEPT_BPS)
    return dy * WAD // dx


@external
@view
def settled_spot_price() -> uint256:
    """
    @notice `spot_price` as the previous block left the pair; reverts once it traded in this block.
    @dev Anyone may call; also reverts on an empty pair.
    @return The settled price, 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    last: uint256 = 0
    x, y, last = self._settled_reserves()
    return y * WAD // x


@external
@view
def settled_depth(band_bps: uint256) -> uint256:
    """
    @notice `depth(band_bps)` as the previous block left the pair.
    @dev Anyone may call; reverts as `depth` does, and once the pair traded in this block.
    @param band_bps The price fall, basis points (below 10_000).
    @return The settled debt value, 18 decimals.
    """
    assert band_bps < BPS, "UniswapV2Venue: band must be below 100%"
    x: uint256 = 0
    y: uint256 = 0
    last: uint256 = 0
    x, y, last = self._settled_reserves()
    root: uint256 = isqrt((BPS - band_bps) * WAD * WAD // BPS)
    return y * (WAD - root) // WAD


@external
@view
def settled_range(since_block: uint256) -> (uint256, uint256, bool):
    """
    @notice (settled price, settled price, False): this block's start only (see the notice).
    @param since_block A past block number (the pair keeps no history to look it up in).
    @dev Anyone may call; reverts once the pair traded in this block.
    @return (lowest settled price, highest settled price, whether the range covers `since_block`).
    """
    x: uint256 = 0
    y: uint256 = 0
    last: uint256 = 0
    x, y, last = self._settled_reserves()
    spot: uint256 = y * WAD // x
    return spot, spot, False


@internal
@view
def _settled_reserves() -> (uint256, uint256, uint256):
    """
    @dev The scaled reserves and the pair's last change time (mod 2**32), which is before this block.
    """
    r0: uint112 = 0
    r1: uint112 = 0
    ts: uint32 = 0
    r0, r1, ts = staticcall IUniswapV2Pair(PAIR).getReserves()
    last: uint256 = convert(ts, uint256)
    assert last != block.timestamp % 2**32, "UniswapV2Venue: pair changed in this block, settled state unknown"
    x: uint256 = convert(r0 if COLLATERAL_IS_TOKEN0 else r1, uint256) * COLLATERAL_SCALE
    y: uint256 = convert(r1 if COLLATERAL_IS_TOKEN0 else r0, uint256) * DEBT_SCALE
    assert x > 0 and y > 0, "UniswapV2Venue: empty pair"
    return x, y, last


@internal
@view
def _reserves() -> (uint256, uint256):
    """
    @dev (collateral, debt) reserves scaled to 18 decimals; reverts on an empty pair.
    """
    r0: uint112 = 0
    r1: uint112 = 0
    ts: uint32 = 0
    r0, r1, ts = staticcall IUniswapV2Pair(PAIR).getReserves()
    x: uint256 = convert(r0 if COLLATERAL_IS_TOKEN0 else r1, uint256) * COLLATERAL_SCALE
    y: uint256 = convert(r1 if COLLATERAL_IS_TOKEN0 else r0, uint256) * DEBT_SCALE
    assert x > 0 and y > 0, "UniswapV2Venue: empty pair"
    return x, y
