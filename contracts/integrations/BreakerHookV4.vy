# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title BreakerHookV4: a Uniswap v4 hook that halts one pool with the circuit breaker
@custom:contract-name BreakerHookV4
@license MIT
@notice Bound to exactly one v4 pool (collateral/debt, a static fee, a tick spacing, this
        hook), fixed at deployment. Its address carries the permission bits
        BEFORE_INITIALIZE | BEFORE_SWAP | AFTER_SWAP and nothing else (`HOOK_FLAGS`), so the
        PoolManager never calls it on liquidity changes or donations: LPs add and remove
        liquidity in every breaker state, and nothing the hook does can lock their funds.

        Breaker coupling: the breaker pushes every stored transition of its market to
        `on_breaker_state`; the state is cached in the slot `beforeSwap` reads anyway. Swaps
        run only in NORMAL. Until the breaker's first push (`add_consumer` pushes the
        current state at once) the cache says HALTED, so a hook the breaker does not know
        keeps its pool closed.

        Price band (Limit Up-Limit Down) in NORMAL, as GuardedPool's: the centre c is the
        reference oracle's price (debt per whole collateral unit, 18 decimals), re-read by the
        first swap after `refresh_s` seconds and by anyone through `refresh_band`; an invalid
        reference leaves the last centre serving until it is `max_age_s` old, then swaps
        revert. On reopening the centre is marked stale. The band [c * (1 - b), c * (1 + b)]
        is stored as bounds on the pool's own sqrtPriceX96 (rounded inwards), packed with the
        state in the one slot a swap reads, so the check is one comparison: `afterSwap` reads the post-swap sqrtPriceX96 from the PoolManager
        (`extsload` of the pool's slot0) and reverts the whole swap when a swap that lowered
        the price left it below the lower bound, or one that raised it left it above the
        upper bound. A trade toward the centre is always allowed, so arbitrage can bring back
        a pool the reference left outside its band. Checking after the swap rather than
        demanding a price limit inside the band keeps the pool usable by routers that pass
        the widest limit.

        Initialization: `beforeInitialize` accepts only this hook's pool key, and only at a
        price inside the band around a valid reference, so nobody can open the pool at a
        price of their choosing.
@custom:kill The hook has no pause of its own: the breaker's guardian halts swaps
        (`guardian_trip`); LPs withdraw in every state.
"""

from snekmate.auth import ownable
from snekmate.utils import math
from ..interfaces import IBreakerConsumer
from ..interfaces import IReferenceOracle
from ..modules import breaker_states

implements: IBreakerConsumer

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
    # the breaker's state words, as `on_breaker_state` receives them
    breaker_states.NORMAL,
    breaker_states.HALTED,
    breaker_states.COOLDOWN,
    breaker_states.AUCTION,
)


# @dev Uniswap v4's PoolKey (Currency and IHooks are addresses).
struct PoolKey:
    currency0: address
    currency1: address
    fee: uint24
    tick_spacing: int24
    hooks: address


# @dev Uniswap v4's SwapParams.
struct SwapParams:
    zero_for_one: bool
    amount_specified: int256
    sqrt_price_limit_x96: uint160


# @dev Unpacked view of the band (see `band()`).
struct Band:
    centre: uint256
    updated_at: uint256
    width_bps: uint256
    refresh_s: uint256
    max_age_s: uint256
    sqrt_price_lower_x96: uint256
    sqrt_price_upper_x96: uint256


interface IExtsload:
    def extsload(slot: bytes32) -> bytes32: view


interface ISwapRefresh:
    def refresh_in_swap(actor: address): nonpayable


event BreakerStateChanged:
    market_id: indexed(uint256)
    actor: indexed(address)
    old_state: uint256
    new_state: uint256
    frozen_price: uint256

event BandRefreshed:
    actor: indexed(address)
    old_centre: uint256
    new_centre: uint256
    valid_feeds: uint256
    sqrt_price_lower_x96: uint256
    sqrt_price_upper_x96: uint256

event BandWidthSet:
    actor: indexed(address)
    old: uint256
    new: uint256

event BandTimingSet:
    actor: indexed(address)
    old_refresh_s: uint256
    new_refresh_s: uint256
    old_max_age_s: uint256
    new_max_age_s: uint256


# @dev Hooks.sol permission bits this hook's address must carry, and the mask of all of them.
BEFORE_INITIALIZE_FLAG: constant(uint256) = 1 << 13
BEFORE_SWAP_FLAG: constant(uint256) = 1 << 7
AFTER_SWAP_FLAG: constant(uint256) = 1 << 6
HOOK_FLAGS: public(constant(uint256)) = BEFORE_INITIALIZE_FLAG | BEFORE_SWAP_FLAG | AFTER_SWAP_FLAG
ALL_HOOK_MASK: public(constant(uint256)) = (1 << 14) - 1

# @dev IHooks selectors the PoolManager expects back (Hooks.callHook compares them).
BEFORE_INITIALIZE_SELECTOR: constant(bytes4) = method_id(
    "beforeInitialize(address,(address,address,uint24,int24,address),uint160)", output_type=bytes4
)
BEFORE_SWAP_SELECTOR: constant(bytes4) = method_id(
    "beforeSwap(address,(address,address,uint24,int24,address),(bool,int256,uint160),bytes)", output_type=bytes4
)
AFTER_SWAP_SELECTOR: constant(bytes4) = method_id(
    "afterSwap(address,(address,address,uint24,int24,address),(bool,int256,uint160),int256,bytes)",
    output_type=bytes4,
)

# @dev Longest hookData accepted (the hook reads none; longer data reverts the swap).
MAX_HOOK_DATA: public(constant(uint256)) = 32
# @dev StateLibrary.POOLS_SLOT: the PoolManager's `_pools` mapping.
POOLS_SLOT: constant(uint256) = 6
# @dev TickMath's sqrtPriceX96 range.
MIN_SQRT_PRICE: constant(uint256) = 4_295_128_739
MAX_SQRT_PRICE: constant(uint256) = 1_461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_342
# @dev LPFeeLibrary.MAX_LP_FEE (100%, pips); the dynamic-fee flag is above it and refused.
MAX_LP_FEE: public(constant(uint256)) = 1_000_000
# @dev TickMath's tick spacing bounds.
MIN_TICK_SPACING: public(constant(int24)) = 1
MAX_TICK_SPACING: public(constant(int24)) = 32_767

# @dev One in basis points, and in 18-decimal fixed point.
BPS: constant(uint256) = 10_000
WAD: constant(uint256) = 10**18
# @dev Most decimals a pool token may have (prices are scaled up to 18 decimals).
MAX_TOKEN_DECIMALS: constant(uint256) = 18
# @dev Band width bounds, bps of the centre (GuardedPool's).
MIN_BAND_BPS: public(constant(uint256)) = 10
MAX_BAND_BPS: public(constant(uint256)) = 5_000
# @dev Bounds of the age after which a swap re-reads the reference (one block to one hour).
MIN_BAND_REFRESH_S: public(constant(uint256)) = 12
MAX_BAND_REFRESH_S: public(constant(uint256)) = 3_600
# @dev Bounds of the age after which a centre the reference cannot refresh stops swaps.
MIN_BAND_MAX_AGE_S: public(constant(uint256)) = 60
MAX_BAND_MAX_AGE_S: public(constant(uint256)) = 86_400

# @dev Layout of the swap word: sqrt lower bound (160) | upper bound's excess over it (32) |
#      state (8) | updated_at (40) | refresh (16). The excess is (upper - lower) / lower in Q0.32,
#      rounded down (below 0.74 for the widest band), so the upper bound it gives back is at most
#      the exact one: rounding only narrows the band.
EXCESS_SHIFT: constant(uint256) = 160
STATE_SHIFT: constant(uint256) = 192
UPDATED_SHIFT: constant(uint256) = 200
REFRESH_SHIFT: constant(uint256) = 240
# @dev Layout of the band word: centre (128) | width (16) | max age (32).
WIDTH_SHIFT: constant(uint256) = 128
MAX_AGE_SHIFT: constant(uint256) = 144
MASK_8: constant(uint256) = 2**8 - 1
MASK_16: constant(uint256) = 2**16 - 1
MASK_32: constant(uint256) = 2**32 - 1
MASK_40: constant(uint256) = 2**40 - 1
MASK_128: constant(uint256) = 2**128 - 1
MASK_160: constant(uint256) = 2**160 - 1


# @dev The PoolManager allowed to call the hook functions.
POOL_MANAGER: public(immutable(address))
# @dev The breaker allowed to push state, and the market it pushes.
BREAKER: public(immutable(address))
MARKET_ID: public(immutable(uint256))
# @dev The reference oracle the band is centred on.
ORACLE: public(immutable(address))
# @dev The collateral asset (sold in a crash) and the debt asset (quote).
COLLATERAL: public(immutable(address))
DEBT: public(immutable(address))
# @dev True when the collateral is the pool's currency0 (the pool price is debt per collateral).
COLLATERAL_IS_CURRENCY0: public(immutable(bool))
# @dev 10**(18 - decimals) of each token: raw units to 18 decimals.
COLLATERAL_SCALE: public(immutable(uint256))
DEBT_SCALE: public(immutable(uint256))
# @dev The one pool this hook serves: its static LP fee (pips) and tick spacing.
FEE: public(immutable(uint24))
TICK_SPACING: public(immutable(int24))
# @dev keccak256(abi.encode(PoolKey)), and the PoolManager slot of that pool's slot0.
POOL_ID: public(immutable(bytes32))
POOL_STATE_SLOT: immutable(bytes32)


# @dev sqrtPriceX96 bounds, cached breaker state, centre time, refresh interval: the one slot
#      every swap reads.
_swap_word: uint256
# @dev Centre, band width and max age, packed: read when the centre is refreshed.
_band: uint256


@deploy
def __init__(
    pool_manager: address,
    breaker: address,
    market_id: uint256,
    oracle: address,
    collateral: address,
    debt: address,
    collateral_decimals: uint256,
    debt_decimals: uint256,
    fee: uint24,
    tick_spacing: int24,
    band_bps: uint256,
    band_refresh_s: uint256,
    band_max_age_s: uint256,
    owner: address,
):
    """
    @dev Decimals are arguments, not read from the tokens, so the init code (and the mined
         CREATE2 salt) depends only on the configuration.
    @param pool_manager The Uniswap v4 PoolManager.
    @param breaker The CircuitBreaker that pushes this market's state.
    @param market_id The breaker market whose state halts the pool.
    @param oracle The reference oracle the band is centred on.
    @param collateral The asset sold in a crash (priced by the reference oracle).
    @param debt The quote asset prices are expressed in.
    @param collateral_decimals Decimals of `collateral`, at most 18.
    @param debt_decimals Decimals of `debt`, at most 18.
    @param fee The pool's static LP fee in pips, at most MAX_LP_FEE.
    @param tick_spacing The pool's tick spacing, in [MIN_TICK_SPACING, MAX_TICK_SPACING].
    @param band_bps Band half-width, in [MIN_BAND_BPS, MAX_BAND_BPS].
    @param band_refresh_s Age after which a swap re-reads the reference.
    @param band_max_age_s Age after which a centre the reference cannot refresh stops swaps.
    @param owner Governance: sets the band parameters.
    """
    ownable.__init__()
    assert owner != empty(address), "BreakerHookV4: owner is the zero address"
    ownable._transfer_ownership(owner)
    assert pool_manager.is_contract, "BreakerHookV4: pool manager is not a contract"
    assert breaker.is_contract, "BreakerHookV4: breaker is not a contract"
    assert oracle.is_contract, "BreakerHookV4: oracle is not a contract"
    assert collateral.is_contract and debt.is_contract, "BreakerHookV4: token is not a contract"
    assert collateral != debt, "BreakerHookV4: identical tokens"
    assert collateral_decimals <= MAX_TOKEN_DECIMALS and debt_decimals <= MAX_TOKEN_DECIMALS, "BreakerHookV4: token decimals above 18"
    assert convert(fee, uint256) <= MAX_LP_FEE, "BreakerHookV4: fee above 100% or dynamic"
    assert tick_spacing >= MIN_TICK_SPACING and tick_spacing <= MAX_TICK_SPACING, "BreakerHookV4: tick spacing out of range"
    self._check_band_width(band_bps)
    self._check_band_timing(band_refresh_s, band_max_age_s)

    POOL_MANAGER = pool_manager
    BREAKER = breaker
    MARKET_ID = market_id
    ORACLE = oracle
    COLLATERAL = collateral
    DEBT = debt
    COLLATERAL_SCALE = 10 ** (MAX_TOKEN_DECIMALS - collateral_decimals)
    DEBT_SCALE = 10 ** (MAX_TOKEN_DECIMALS - debt_decimals)
    FEE = fee
    TICK_SPACING = tick_spacing
    COLLATERAL_IS_CURRENCY0 = convert(collateral, uint256) < convert(debt, uint256)
    currency0: address = debt
    currency1: address = collateral
    if COLLATERAL_IS_CURRENCY0:
        currency0 = collateral
        currency1 = debt
    POOL_ID = keccak256(abi_encode(currency0, currency1, fee, tick_spacing, self))
    POOL_STATE_SLOT = keccak256(concat(POOL_ID, convert(POOLS_SLOT, bytes32)))

    self._swap_word = (breaker_states.HALTED << STATE_SHIFT) | (band_refresh_s << REFRESH_SHIFT)
    self._band = (band_bps << WIDTH_SHIFT) | (band_max_age_s << MAX_AGE_SHIFT)
    log BandWidthSet(actor=msg.sender, old=0, new=band_bps)
    log BandTimingSet(
        actor=msg.sender, old_refresh_s=0, new_refresh_s=band_refresh_s, old_max_age_s=0,
        new_max_age_s=band_max_age_s,
    )


# ---------------------------------------------------------------- IHooks


@external
def beforeInitialize(sender: address, key: PoolKey, sqrt_price_x96: uint160) -> bytes4:
    """
    @notice The PoolManager asks before initializing a pool with this hook.
    @dev Only this hook's own pool key, and only at a price inside the band around a valid
         reference price (read now).
    @param sender Who called `PoolManager.initialize`.
    @param key The pool being initialized.
    @param sqrt_price_x96 Its initial price.
    @return IHooks.beforeInitialize.selector.
    """
    assert msg.sender == POOL_MANAGER, "BreakerHookV4: caller is not the pool manager"
    assert keccak256(abi_encode(key)) == POOL_ID, "BreakerHookV4: not this hook's pool"
    w: uint256 = self._refresh(sender, self._swap_word, True)
    price: uint256 = convert(sqrt_price_x96, uint256)
    assert price >= w & MASK_160 and price <= self._upper(w), "BreakerHookV4: initial price outside the band"
    return BEFORE_INITIALIZE_SELECTOR


@external
def beforeSwap(sender: address, key: PoolKey, params: SwapParams, hook_data: Bytes[MAX_HOOK_DATA]) -> (bytes4, int256, uint24):
    """
    @notice The PoolManager asks before every swap: refused unless the market is NORMAL.
    @dev Re-reads the reference when the centre is older than `refresh_s`. Returns no
         delta and no fee override (the pool's fee is static).
    @param sender The router that called `PoolManager.swap`.
    @param key The pool (the only one this hook accepted).
    @param params The swap.
    @param hook_data Ignored.
    @return (IHooks.beforeSwap.selector, zero BeforeSwapDelta, zero fee override).
    """
    assert msg.sender == POOL_MANAGER, "BreakerHookV4: caller is not the pool manager"
    w: uint256 = self._swap_word
    state: uint256 = (w >> STATE_SHIFT) & MASK_8
    if state != breaker_states.NORMAL:
        # inlined rather than an internal call: keeps this frame (and its memory) small
        assert state != breaker_states.HALTED, "BreakerHookV4: market halted"
        assert state != breaker_states.COOLDOWN, "BreakerHookV4: market in cooldown"
        raise "BreakerHookV4: market in reopening auction"
    # Cannot overflow: both terms are below 2**40. The refresh is a call to this hook itself,
    # once per refresh interval, so the memory frame of the refresh stays out of every swap.
    if block.timestamp > unsafe_add((w >> UPDATED_SHIFT) & MASK_40, (w >> REFRESH_SHIFT) & MASK_16):
        extcall ISwapRefresh(self).refresh_in_swap(sender)
    return BEFORE_SWAP_SELECTOR, 0, 0


@external
def afterSwap(sender: address, key: PoolKey, params: SwapParams, delta: int256, hook_data: Bytes[MAX_HOOK_DATA]) -> (bytes4, int128):
    """
    @notice The PoolManager reports every swap: reverted when it left the band on the side
            it moved the price to.
    @param sender The router that called `PoolManager.swap`.
    @param key The pool.
    @param params The swap; `zero_for_one` tells which way it moved the price.
    @param delta The swap's balance delta (not used).
    @param hook_data Ignored.
    @return (IHooks.afterSwap.selector, zero unspecified delta).
    @dev Changes nothing and reads only the pool's own price, so it needs no caller check.
         The upper bound is `_upper` inlined (this runs on every swap).
    """
    sqrt_price: uint256 = convert(staticcall IExtsload(POOL_MANAGER).extsload(POOL_STATE_SLOT), uint256) & MASK_160
    w: uint256 = self._swap_word
    lower: uint256 = w & MASK_160
    if params.zero_for_one:
        assert sqrt_price >= lower, "BreakerHookV4: swap leaves the price band"
    else:
        assert sqrt_price <= unsafe_add(lower, unsafe_mul(lower, (w >> EXCESS_SHIFT) & MASK_32) >> 32), "BreakerHookV4: swap leaves the price band"
    return AFTER_SWAP_SELECTOR, 0


# ---------------------------------------------------------------- breaker and band


@external
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    """
    @notice The breaker pushes every stored transition of its market here.
    @dev Only the configured breaker, only for the configured market. Entering NORMAL from
         another state marks the band centre stale, so the first swap after a halt re-reads
         the reference (and reverts while it is invalid).
    @param market_id The breaker market.
    @param state The breaker's State flag value (NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8).
    @param frozen_price The last valid reference price captured at the trip (logged).
    """
    assert msg.sender == BREAKER, "BreakerHookV4: caller is not the breaker"
    assert market_id == MARKET_ID, "BreakerHookV4: wrong market"
    assert (
        state == breaker_states.NORMAL or state == breaker_states.HALTED
        or state == breaker_states.COOLDOWN or state == breaker_states.AUCTION
    ), "BreakerHookV4: unknown breaker state"
    w: uint256 = self._swap_word
    old_state: uint256 = (w >> STATE_SHIFT) & MASK_8
    w = (w & ~(MASK_8 << STATE_SHIFT)) | (state << STATE_SHIFT)
    if state == breaker_states.NORMAL and old_state != breaker_states.NORMAL:
        w = w & ~(MASK_40 << UPDATED_SHIFT)
    self._swap_word = w
    log BreakerStateChanged(
        market_id=market_id, actor=msg.sender, old_state=old_state, new_state=state, frozen_price=frozen_price
    )


@external
def refresh_band() -> uint256:
    """
    @notice Re-centres the price band on the reference price now. Permissionless: the
            centre can only become the reference oracle's own valid price.
    @dev Reverts when the reference is invalid (the old centre is then kept, and stops swaps
         once it is `max_age_s` old).
    @return The new centre, 18 decimals.
    """
    self._refresh(msg.sender, self._swap_word, True)
    return self._band & MASK_128


@external
def refresh_in_swap(actor: address):
    """
    @notice The centre refresh of `beforeSwap`; only the hook itself calls it.
    @dev With an invalid reference the old centre serves until it is `max_age_s` old.
    @param actor The router whose swap found the centre old (logged).
    """
    assert msg.sender == self, "BreakerHookV4: caller is not the hook"
    self._refresh(actor, self._swap_word, False)


# ---------------------------------------------------------------- governance


@external
def set_band_bps(new_band_bps: uint256):
    """
    @notice Sets the band half-width around the reference price.
    @dev Only the owner (governance). Bounds [MIN_BAND_BPS, MAX_BAND_BPS]. The bounds are
         recomputed around the current centre (if any) at once.
    @param new_band_bps The new half-width in bps.
    """
    ownable._check_owner()
    self._check_band_width(new_band_bps)
    b: uint256 = self._band
    self._band = (b & ~(MASK_16 << WIDTH_SHIFT)) | (new_band_bps << WIDTH_SHIFT)
    centre: uint256 = b & MASK_128
    if centre != 0:
        lower: uint256 = 0
        upper: uint256 = 0
        lower, upper = self._sqrt_bounds(centre, new_band_bps)
        self._swap_word = (self._swap_word & ~MASK_160 & ~(MASK_32 << EXCESS_SHIFT)) | self._pack_bounds(lower, upper)
    log BandWidthSet(actor=msg.sender, old=(b >> WIDTH_SHIFT) & MASK_16, new=new_band_bps)


@external
def set_band_timing(new_refresh_s: uint256, new_max_age_s: uint256):
    """
    @notice Sets when a swap re-reads the reference, and how old a centre may serve while
            the reference is invalid.
    @dev Only the owner (governance). Bounds [MIN_BAND_REFRESH_S, MAX_BAND_REFRESH_S] and
         [MIN_BAND_MAX_AGE_S, MAX_BAND_MAX_AGE_S], refresh <= max age.
    @param new_refresh_s The new refresh interval in seconds.
    @param new_max_age_s The new max age in seconds.
    """
    ownable._check_owner()
    self._check_band_timing(new_refresh_s, new_max_age_s)
    w: uint256 = self._swap_word
    b: uint256 = self._band
    self._swap_word = (w & ~(MASK_16 << REFRESH_SHIFT)) | (new_refresh_s << REFRESH_SHIFT)
    self._band = (b & ~(MASK_32 << MAX_AGE_SHIFT)) | (new_max_age_s << MAX_AGE_SHIFT)
    log BandTimingSet(
        actor=msg.sender,
        old_refresh_s=(w >> REFRESH_SHIFT) & MASK_16,
        new_refresh_s=new_refresh_s,
        old_max_age_s=(b >> MAX_AGE_SHIFT) & MASK_32,
        new_max_age_s=new_max_age_s,
    )


# ---------------------------------------------------------------- views


@external
@view
def breaker_state() -> uint256:
    """
    @notice The breaker state cached from the last push (HALTED before the first one).
    @dev Anyone may call.
    @return The state flag (NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8).
    """
    return (self._swap_word >> STATE_SHIFT) & MASK_8


@external
@view
def band() -> Band:
    """
    @notice The band: centre (18 decimals), when it was read (0: stale), width, refresh
            interval, max age, and the sqrtPriceX96 bounds derived from them.
    @dev Anyone may call.
    @return The band as stored (not refreshed).
    """
    w: uint256 = self._swap_word
    b: uint256 = self._band
    return Band(
        centre=b & MASK_128,
        updated_at=(w >> UPDATED_SHIFT) & MASK_40,
        width_bps=(b >> WIDTH_SHIFT) & MASK_16,
        refresh_s=(w >> REFRESH_SHIFT) & MASK_16,
        max_age_s=(b >> MAX_AGE_SHIFT) & MASK_32,
        sqrt_price_lower_x96=w & MASK_160,
        sqrt_price_upper_x96=self._upper(w),
    )


@external
@view
def pool_key() -> PoolKey:
    """
    @notice The one pool this hook serves.
    @dev Anyone may call.
    @return The pool key, currencies sorted, `hooks` this contract.
    """
    if COLLATERAL_IS_CURRENCY0:
        return PoolKey(currency0=COLLATERAL, currency1=DEBT, fee=FEE, tick_spacing=TICK_SPACING, hooks=self)
    return PoolKey(currency0=DEBT, currency1=COLLATERAL, fee=FEE, tick_spacing=TICK_SPACING, hooks=self)


@external
@view
def sqrt_price_x96_of(price: uint256) -> uint256:
    """
    @notice The pool's sqrtPriceX96 at a collateral price (debt per whole collateral unit,
            18 decimals), rounded down; what `PoolManager.initialize` takes.
    @param price The collateral price.
    @dev Anyone may call; reverts unless 0 < `price` <= 2**128 - 1.
    @return The sqrtPriceX96, rounded down.
    """
    assert price > 0 and price <= MASK_128, "BreakerHookV4: price out of range"
    return self._sqrt_price_x96(price, False)


# ---------------------------------------------------------------- internal


@internal
def _refresh(actor: address, w: uint256, must_succeed: bool) -> uint256:
    """
    @dev Re-reads the reference and recomputes the bounds. With an invalid reference the
         old centre serves until it is `max_age_s` old (unless `must_succeed`). Returns the
         swap word now stored.
    """
    b: uint256 = self._band
    price: uint256 = 0
    valid_feeds: uint256 = 0
    price, valid_feeds = staticcall IReferenceOracle(ORACLE).latest()
    if price > 0 and price <= MASK_128:
        lower: uint256 = 0
        upper: uint256 = 0
        lower, upper = self._sqrt_bounds(price, (b >> WIDTH_SHIFT) & MASK_16)
        new_w: uint256 = (
            (w & ~MASK_160 & ~(MASK_32 << EXCESS_SHIFT) & ~(MASK_40 << UPDATED_SHIFT))
            | self._pack_bounds(lower, upper)
            | (block.timestamp << UPDATED_SHIFT)
        )
        self._swap_word = new_w
        self._band = (b & ~MASK_128) | price
        log BandRefreshed(
            actor=actor, old_centre=b & MASK_128, new_centre=price, valid_feeds=valid_feeds,
            sqrt_price_lower_x96=lower, sqrt_price_upper_x96=self._upper(new_w),
        )
        return new_w
    assert not must_succeed, "BreakerHookV4: reference price invalid"
    updated_at: uint256 = (w >> UPDATED_SHIFT) & MASK_40
    assert updated_at != 0 and block.timestamp <= updated_at + ((b >> MAX_AGE_SHIFT) & MASK_32), "BreakerHookV4: reference price invalid and band centre stale"
    return w


@internal
@view
def _sqrt_bounds(centre: uint256, width_bps: uint256) -> (uint256, uint256):
    """
    @dev sqrtPriceX96 bounds of the band [c * (1 - b), c * (1 + b)], rounded inwards and
         clamped to TickMath's range. The pool price is debt per collateral when the
         collateral is currency0, its inverse otherwise.
    """
    low_price: uint256 = math._ceil_div(centre * (BPS - width_bps), BPS)
    high_price: uint256 = centre * (BPS + width_bps) // BPS
    lower: uint256 = 0
    upper: uint256 = 0
    if COLLATERAL_IS_CURRENCY0:
        lower = self._sqrt_price_x96(low_price, True)
        upper = self._sqrt_price_x96(high_price, False)
    else:
        lower = self._sqrt_price_x96(high_price, True)
        upper = self._sqrt_price_x96(low_price, False)
    return max(lower, MIN_SQRT_PRICE), min(upper, MAX_SQRT_PRICE)


@internal
@view
def _sqrt_price_x96(price: uint256, round_up: bool) -> uint256:
    """
    @dev sqrt(raw currency1 per raw currency0) in Q64.96 at a collateral price. The raw
         ratio is price * CS / (DS * 1e18) (collateral is currency0) or its inverse. Ratios
         of 2**64 and more are rooted in Q64.64 so the 512-bit product fits; ratios beyond
         the pool's range (2**128) saturate at MAX_SQRT_PRICE.
    """
    num: uint256 = price * COLLATERAL_SCALE
    den: uint256 = DEBT_SCALE * WAD
    if not COLLATERAL_IS_CURRENCY0:
        num = DEBT_SCALE * WAD
        den = price * COLLATERAL_SCALE
    if num // den >= 2**128:
        return MAX_SQRT_PRICE
    if num // den < 2**64:
        return self._isqrt(math._mul_div(num, 2**192, den, round_up), round_up)
    return self._isqrt(math._mul_div(num, 2**128, den, round_up), round_up) << 32


@internal
@pure
def _pack_bounds(lower: uint256, upper: uint256) -> uint256:
    """
    @dev The lower bound and the upper bound's excess over it, in the swap word's layout.
         Reverts (the band cannot be used) when the bounds cross, which only clamping at
         TickMath's range can cause.
    """
    assert lower <= upper, "BreakerHookV4: band outside the pool's price range"
    excess: uint256 = ((upper - lower) << 32) // lower
    assert excess <= MASK_32, "BreakerHookV4: band too wide to pack"
    return lower | (excess << EXCESS_SHIFT)


@internal
@pure
def _upper(w: uint256) -> uint256:
    """
    @dev The upper sqrtPriceX96 bound, never above the exact one. Cannot overflow: the lower
         bound is below 2**160 and the excess below 2**32.
    """
    lower: uint256 = w & MASK_160
    return unsafe_add(lower, unsafe_mul(lower, (w >> EXCESS_SHIFT) & MASK_32) >> 32)


@internal
@pure
def _isqrt(x: uint256, round_up: bool) -> uint256:
    root: uint256 = isqrt(x)
    if round_up and root * root < x:
        root += 1
    return root


@internal
@pure
def _check_band_width(band_bps: uint256):
    assert band_bps >= MIN_BAND_BPS and band_bps <= MAX_BAND_BPS, "BreakerHookV4: band width out of bounds"


@internal
@pure
def _check_band_timing(refresh_s: uint256, max_age_s: uint256):
    assert refresh_s >= MIN_BAND_REFRESH_S and refresh_s <= MAX_BAND_REFRESH_S, "BreakerHookV4: band refresh out of bounds"
    assert max_age_s >= MIN_BAND_MAX_AGE_S and max_age_s <= MAX_BAND_MAX_AGE_S, "BreakerHookV4: band max age out of bounds"
    assert refresh_s <= max_age_s, "BreakerHookV4: band refresh above max age"
