# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title GuardedPool: a constant-product AMM protected by the circuit breaker
@custom:contract-name GuardedPool
@license MIT
@notice One collateral/debt pair (any decimals up to 18), x * y = k with a swap fee on the
        input, LP shares as an ERC-20. The pool is a venue the breaker watches (`IVenue`)
        and a consumer it notifies (`IBreakerConsumer`).

        Glossary (prices and values in debt units per whole collateral unit, 18 decimals):
          x, y   collateral and debt reserves in raw token units
          X, Y   the same scaled to 18 decimals (x * COLLATERAL_SCALE, y * DEBT_SCALE)
          p      spot price Y * 1e18 / X
          k      x * y; grows with fees and deposits, shrinks only by proportional withdrawal
          f      swap fee in bps, taken from the input
          c      band centre: the reference oracle's price, cached with its time
          b      band width in bps; a sell may not leave p below c * (1 - b), a buy may not
                 leave p above c * (1 + b)

        Breaker coupling: the breaker pushes every stored transition to `on_breaker_state`;
        the state is cached next to the reserves, in the slot a swap reads anyway. Swaps run
        only in NORMAL. Adding liquidity works in NORMAL and HALTED, not from COOLDOWN to
        the end of AUCTION (the reopening auction's clearing reads the pool's reserves);
        proportional withdrawal works in every state and never calls anything but the two
        tokens.

        Price band (Limit Up-Limit Down) in NORMAL, when a reference oracle is set: the
        centre is refreshed from `IReferenceOracle.latest()` by the first swap after
        `refresh_s` seconds (and by anyone through `refresh_band`), so a swap calls the
        oracle at most once per `refresh_s`. When the reference is invalid (below quorum),
        the last centre keeps serving until it is `max_age_s` old; after that swaps revert
        (fail closed) until the reference is valid again. On reopening (any state -> NORMAL)
        the centre is marked stale, so the first swap after a halt re-reads the reference.
        The check is one-sided per direction: a trade that moves the price toward the
        centre is always allowed, so arbitrage can bring back a pool that the reference
        left outside its band; no trade can push the price further outside.

        Reopening auction: governance may name an auction contract (`set_auction`). During
        AUCTION, and only then, that contract may trade the pool at the auction's uniform
        clearing price (`clear_auction`): the pool accepts a trade whose value at that price
        is not negative for it and that brings it to that price up to rounding: its spot
        price after is within REOPEN_TOLERANCE_BPS of it, or (for a collateral so coarse
        that one raw unit moves the price more) its collateral leg is within REOPEN_SLACK
        raw units of its own quote (`clearing._pool_quote`, the trade after which its spot
        would be the clearing price); and it centres the band on the price. The
        breaker's NORMAL push in the same transaction keeps that centre (instead of marking
        it stale). None of this touches the swap path.

        Reserves are internal accounting: tokens sent to the pool without a call are not
        counted, and fee-on-transfer or rebasing tokens are not supported.

        Unguarded variant: `breaker` and `oracle` set to empty(address). The state stays
        NORMAL and the band is never read (same bytecode, for the gas comparison).
@custom:kill Governance cannot pause the pool by itself: the breaker's guardian halts swaps
        (`guardian_trip`), LPs withdraw their share in every state. An unguarded pool has no
        kill switch; its LPs withdraw.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.tokens import erc20
from .interfaces import IBreakerConsumer
from .interfaces import IGuardedPool
from .interfaces import IReferenceOracle
from .interfaces import IVenue
from .modules import breaker_states
from .modules import clearing

implements: IBreakerConsumer
implements: IGuardedPool
implements: IVenue

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
    # the breaker's state words, as `on_breaker_state` receives them
    breaker_states.NORMAL,
    breaker_states.HALTED,
    breaker_states.COOLDOWN,
    breaker_states.AUCTION,
)


# @dev Unpacked view of the band word (see `band()`).
struct Band:
    centre: uint256
    updated_at: uint256
    width_bps: uint256
    refresh_s: uint256
    max_age_s: uint256


# @dev One in basis points.
BPS: constant(uint256) = 10_000
# @dev One in 18-decimal fixed point.
WAD: constant(uint256) = 10**18
# @dev Most decimals a pool token may have (prices are scaled up to 18 decimals).
MAX_TOKEN_DECIMALS: constant(uint256) = 18
# @dev Shares minted to DEAD at the first deposit and never redeemable (keeps supply > 0).
MINIMUM_LIQUIDITY: public(constant(uint256)) = 1_000
# @dev Holder of the locked minimum liquidity.
DEAD: constant(address) = 0x000000000000000000000000000000000000dEaD
# @dev Largest reserve (raw units): two reserves, the state and the fee share one slot.
MAX_RESERVE: public(constant(uint256)) = 2**112 - 1
# @dev Largest notional `exec_price` quotes; above it the sell is reported unfillable.
MAX_NOTIONAL: constant(uint256) = 2**128

# @dev Swap fee bounds, bps of the input (UniV2 charges 30).
MIN_FEE_BPS: public(constant(uint256)) = 0
MAX_FEE_BPS: public(constant(uint256)) = 100
# @dev Band width bounds, bps of the centre (equity LULD bands run 5-20%).
MIN_BAND_BPS: public(constant(uint256)) = 10
MAX_BAND_BPS: public(constant(uint256)) = 5_000
# @dev Bounds of the age after which a swap re-reads the reference (one block to one hour).
MIN_BAND_REFRESH_S: public(constant(uint256)) = 12
MAX_BAND_REFRESH_S: public(constant(uint256)) = 3_600
# @dev Bounds of the age after which a centre the reference cannot refresh stops swaps;
#      also at least the refresh interval.
MIN_BAND_MAX_AGE_S: public(constant(uint256)) = 60
MAX_BAND_MAX_AGE_S: public(constant(uint256)) = 86_400

# @dev Layout of the pool word: x (112 bits) | y (112) | state (8) | fee (8) | block-start ring
#      head (5) | low 11 bits of the number of the last block whose start was recorded.
Y_SHIFT: constant(uint256) = 112
STATE_SHIFT: constant(uint256) = 224
FEE_SHIFT: constant(uint256) = 232
HEAD_SHIFT: constant(uint256) = 240
MARK_SHIFT: constant(uint256) = 245
# @dev Block starts kept (a ring): one per block in which the reserves changed.
BLOCK_STARTS: public(constant(uint256)) = 32
# @dev Layout of a block start: x (112 bits) | y (112) | the block's number (32).
BLOCK_SHIFT: constant(uint256) = 224
# @dev Layout of the band word: centre (128) | updated_at (40) | width (16) | refresh (16) | max age (32)
#      | low 24 bits of the number of the block of the last auction clearing (deposits reopen the
#      block after it; the same low bits 2**24 blocks later, or a multiple of 2**24 on a pool that
#      never cleared, only close deposits for that one block).
UPDATED_SHIFT: constant(uint256) = 128
WIDTH_SHIFT: constant(uint256) = 168
REFRESH_SHIFT: constant(uint256) = 184
MAX_AGE_SHIFT: constant(uint256) = 200
CLEARED_SHIFT: constant(uint256) = 232
MASK_5: constant(uint256) = 2**5 - 1
MASK_8: constant(uint256) = 2**8 - 1
MASK_11: constant(uint256) = 2**11 - 1
MASK_16: constant(uint256) = 2**16 - 1
MASK_24: constant(uint256) = 2**24 - 1
MASK_32: constant(uint256) = 2**32 - 1
MASK_40: constant(uint256) = 2**40 - 1
MASK_112: constant(uint256) = 2**112 - 1
MASK_128: constant(uint256) = 2**128 - 1
MASK_224: constant(uint256) = 2**224 - 1
MASK_240: constant(uint256) = 2**240 - 1
# @dev Centre and time bits of the band word (what a refresh rewrites).
CENTRE_AND_TIME: constant(uint256) = 2**168 - 1
# @dev How close an auction trade must bring the pool to the clearing price: its spot
#      within REOPEN_TOLERANCE_BPS of it, or its collateral leg within REOPEN_SLACK raw
#      units of the pool's own quote (the rounding of the order fills, one unit per order
#      of the largest book, plus one). The first covers fine tokens on the 1-wei price grid,
#      the second coarse tokens whose raw units are large.
REOPEN_TOLERANCE_BPS: public(constant(uint256)) = 1
REOPEN_SLACK: public(constant(uint256)) = clearing.MAX_ORDERS + 1


# @dev The collateral asset (sold in a crash) and the debt asset (quote).
COLLATERAL: public(immutable(address))
DEBT: public(immutable(address))
# @dev 10**(18 - decimals) of each token: raw units to 18 decimals.
COLLATERAL_SCALE: public(immutable(uint256))
DEBT_SCALE: public(immutable(uint256))
# @dev The breaker allowed to push state, and the market it pushes; empty when unguarded.
BREAKER: public(immutable(address))
MARKET_ID: public(immutable(uint256))
# @dev The reference oracle the band is centred on; empty means no band.
ORACLE: public(immutable(address))


# @dev Reserves, cached breaker state and fee, packed: the one slot every swap reads and writes.
_pool: uint256
# @dev Price band, packed: centre, when it was read, width, refresh interval, max age, and the
#      block of the last auction clearing.
_band: uint256
# @dev Ring of block starts: the reserves each block opened with, written by the block's first
#      reserve change (the pool's own oracle; the breaker's evidence reads it).
_block_starts: uint256[BLOCK_STARTS]
# @dev The reopening auction allowed to trade the pool during AUCTION; empty for none.
auction: public(address)
# @dev Set by `clear_auction` for the rest of its transaction: the breaker's NORMAL push
#      that follows keeps the band centred on the clearing price.
_cleared_by_auction: transient(bool)


@deploy
def __init__(
    collateral: address,
    debt: address,
    fee_bps: uint256,
    breaker: address,
    market_id: uint256,
    oracle: address,
    band_bps: uint256,
    band_refresh_s: uint256,
    band_max_age_s: uint256,
    owner: address,
    name: String[25],
    symbol: String[5],
):
    """
    @notice Deploys an empty constant-product pool whose LP shares are this ERC-20 (18 decimals).
    @dev Anyone may deploy; `owner` becomes the owner. Reverts when `owner` is the zero address, a token is not
         a contract, the tokens are identical, `breaker` or `oracle` is neither empty nor a contract, a token
         has more than 18 decimals, or the fee, band width or band timing is out of bounds (as the setters).
         Starts NORMAL. Logs FeeSet and BandWidthSet.
    @param collateral The asset sold in a crash (priced by the reference oracle).
    @param debt The quote asset prices are expressed in.
    @param fee_bps Swap fee, in [MIN_FEE_BPS, MAX_FEE_BPS].
    @param breaker The CircuitBreaker that pushes this market's state; empty for none.
    @param market_id The breaker market whose state halts this pool.
    @param oracle The reference oracle the band is centred on; empty for no band.
    @param band_bps Band half-width, in [MIN_BAND_BPS, MAX_BAND_BPS].
    @param band_refresh_s Age after which a swap re-reads the reference.
    @param band_max_age_s Age after which a centre the reference cannot refresh stops swaps.
    @param owner Governance: sets the fee and band parameters.
    @param name The LP share's name (also its EIP-712 domain name).
    @param symbol The LP share's symbol.
    """
    ownable.__init__()
    erc20.__init__(name, symbol, 18, name, "1")
    assert owner != empty(address), "GuardedPool: owner is the zero address"
    ownable._transfer_ownership(owner)

    assert collateral.is_contract and debt.is_contract, "GuardedPool: token is not a contract"
    assert collateral != debt, "GuardedPool: identical tokens"
    assert breaker == empty(address) or breaker.is_contract, "GuardedPool: breaker is not a contract"
    assert oracle == empty(address) or oracle.is_contract, "GuardedPool: oracle is not a contract"
    collateral_decimals: uint256 = convert(staticcall IERC20Detailed(collateral).decimals(), uint256)
    debt_decimals: uint256 = convert(staticcall IERC20Detailed(debt).decimals(), uint256)
    assert collateral_decimals <= MAX_TOKEN_DECIMALS and debt_decimals <= MAX_TOKEN_DECIMALS, "GuardedPool: token decimals above 18"

    self._check_fee(fee_bps)
    self._check_band_width(band_bps)
    self._check_band_timing(band_refresh_s, band_max_age_s)

    COLLATERAL = collateral
    DEBT = debt
    COLLATERAL_SCALE = 10 ** (MAX_TOKEN_DECIMALS - collateral_decimals)
    DEBT_SCALE = 10 ** (MAX_TOKEN_DECIMALS - debt_decimals)
    BREAKER = breaker
    MARKET_ID = market_id
    ORACLE = oracle

    self._pool = (breaker_states.NORMAL << STATE_SHIFT) | (fee_bps << FEE_SHIFT)
    # Pre-warm the ring (block 0 marks an empty slot): a block's first trade then pays a
    # nonzero-to-nonzero write, not a fresh slot.
    for i: uint256 in range(BLOCK_STARTS):
        self._block_starts[i] = 1
    self._band = (band_bps << WIDTH_SHIFT) | (band_refresh_s << REFRESH_SHIFT) | (band_max_age_s << MAX_AGE_SHIFT)
    log IGuardedPool.FeeSet(actor=msg.sender, old=0, new=fee_bps)
    log IGuardedPool.BandWidthSet(actor=msg.sender, old=0, new=band_bps)
    log IGuardedPool.BandTimingSet(
        actor=msg.sender, old_refresh_s=0, new_refresh_s=band_refresh_s, old_max_age_s=0,
        new_max_age_s=band_max_age_s,
    )


# ---------------------------------------------------------------- trading


@external
@nonreentrant
def swap(
    sell_collateral: bool,
    amount_in: uint256,
    min_amount_out: uint256,
    deadline: uint256,
    receiver: address = msg.sender,
) -> uint256:
    """
    @notice Sells `amount_in` collateral for debt (`sell_collateral`) or debt for collateral.
    @dev Reverts while the breaker state is not NORMAL, and in NORMAL when the post-trade
         price leaves the band on the side the trade moves it to. The input is pulled with
         `transferFrom`; fee-on-transfer tokens are not supported.
    @param sell_collateral True to sell collateral, False to buy it with the debt asset.
    @param amount_in Input amount, raw units of the input token.
    @param min_amount_out Least output accepted, raw units of the output token.
    @param deadline Latest block timestamp at which the swap may execute.
    @param receiver Who receives the output.
    @return The output amount.
    """
    assert block.timestamp <= deadline, "GuardedPool: deadline passed"
    w: uint256 = self._pool
    state: uint256 = (w >> STATE_SHIFT) & MASK_8
    if state != breaker_states.NORMAL:
        self._raise_closed(state)
    w = self._record_block_start(w)
    x: uint256 = w & MASK_112
    y: uint256 = (w >> Y_SHIFT) & MASK_112
    fee_bps: uint256 = (w >> FEE_SHIFT) & MASK_8

    r_in: uint256 = y
    r_out: uint256 = x
    if sell_collateral:
        r_in = x
        r_out = y
    # r_in <= MAX_RESERVE, so this cannot underflow; written as a difference so a huge amount_in
    # gets the pool's reason instead of an arithmetic overflow
    assert amount_in <= MAX_RESERVE - r_in, "GuardedPool: reserve overflow"
    amount_out: uint256 = self._amount_out(amount_in, r_in, r_out, fee_bps)
    assert amount_out > 0, "GuardedPool: output is zero"
    assert amount_out >= min_amount_out, "GuardedPool: output below minimum"
    r_in += amount_in
    r_out -= amount_out

    token_in: address = DEBT
    token_out: address = COLLATERAL
    if sell_collateral:
        x = r_in
        y = r_out
        token_in = COLLATERAL
        token_out = DEBT
    else:
        x = r_out
        y = r_in
    if ORACLE != empty(address):
        # Price band, one-sided (see `_refresh_centre` for the centre). Unchecked arithmetic
        # cannot overflow: x, y < 2**112, scales and WAD < 2**60, centre < 2**128, width < BPS,
        # and x > 0 after any swap.
        b: uint256 = self._band
        centre: uint256 = b & MASK_128
        if block.timestamp > unsafe_add((b >> UPDATED_SHIFT) & MASK_40, (b >> REFRESH_SHIFT) & MASK_16):
            centre = self._refresh_centre(b)
        width: uint256 = (b >> WIDTH_SHIFT) & MASK_16
        numerator: uint256 = unsafe_mul(unsafe_mul(y, DEBT_SCALE), WAD)
        denominator: uint256 = unsafe_mul(x, COLLATERAL_SCALE)
        if sell_collateral:
            assert unsafe_mul(unsafe_div(numerator, denominator), BPS) >= unsafe_mul(centre, unsafe_sub(BPS, width)), "GuardedPool: price below band"
        else:
            price_up: uint256 = unsafe_div(unsafe_add(numerator, unsafe_sub(denominator, 1)), denominator)
            assert unsafe_mul(price_up, BPS) <= unsafe_mul(centre, unsafe_add(BPS, width)), "GuardedPool: price above band"

    self._pool = (w & ~MASK_112 & ~(MASK_112 << Y_SHIFT)) | x | (y << Y_SHIFT)
    assert extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in, default_return_value=True), "GuardedPool: transfer in failed"
    assert extcall IERC20(token_out).transfer(receiver, amount_out, default_return_value=True), "GuardedPool: transfer out failed"
    log IGuardedPool.Swapped(
        trader=msg.sender, receiver=receiver, sell_collateral=sell_collateral, amount_in=amount_in,
        amount_out=amount_out, fee=amount_in * fee_bps // BPS, reserve_collateral=x, reserve_debt=y,
    )
    return amount_out


@external
@nonreentrant
def add_liquidity(
    max_collateral: uint256,
    max_debt: uint256,
    min_shares: uint256,
    deadline: uint256,
    receiver: address = msg.sender,
) -> uint256:
    """
    @notice Deposits both assets in the pool's current ratio (the first deposit sets the
            ratio) and mints LP shares. Refused from COOLDOWN to the end of AUCTION (the
            cached state) and in the block the reopening auction cleared, so liquidity added
            after a halt's resume cannot size the pool quote the auction clears against, and
            liquidity withdrawn before a settlement cannot return in its block; allowed in
            NORMAL and HALTED otherwise. Withdrawals stay open in every state.
    @dev Anyone may call. Takes at most `max_collateral` and `max_debt`, rounding what it
         takes up and the shares down. The first deposit locks MINIMUM_LIQUIDITY shares at DEAD.
    @param max_collateral Most collateral to deposit, raw units.
    @param max_debt Most debt asset to deposit, raw units.
    @param min_shares Least shares accepted.
    @param deadline Latest block timestamp at which the deposit may execute.
    @param receiver Who receives the shares.
    @return The shares minted to `receiver`.
    """
    assert block.timestamp <= deadline, "GuardedPool: deadline passed"
    w: uint256 = self._pool
    state: uint256 = (w >> STATE_SHIFT) & MASK_8
    assert state != breaker_states.COOLDOWN and state != breaker_states.AUCTION, "GuardedPool: deposits closed until the market reopens"
    # Liquidity withdrawn before the settlement must stay out through its block.
    assert self._band >> CLEARED_SHIFT != block.number & MASK_24, "GuardedPool: deposits closed in the reopening block"
    w = self._record_block_start(w)
    x: uint256 = w & MASK_112
    y: uint256 = (w >> Y_SHIFT) & MASK_112
    supply: uint256 = erc20.totalSupply

    shares: uint256 = 0
    amount_x: uint256 = max_collateral
    amount_y: uint256 = max_debt
    if supply == 0:
        assert max_collateral <= MAX_RESERVE and max_debt <= MAX_RESERVE, "GuardedPool: reserve overflow"
        shares = isqrt(max_collateral * max_debt)
        assert shares > MINIMUM_LIQUIDITY, "GuardedPool: initial liquidity too small"
        erc20._mint(DEAD, MINIMUM_LIQUIDITY)
        shares -= MINIMUM_LIQUIDITY
    else:
        # The pool never holds more than MAX_RESERVE, so a larger maximum takes nothing more: capping
        # keeps the products in range and lets "no limit" (2**256 - 1) mean what it says.
        shares = min(min(max_collateral, MAX_RESERVE) * supply // x, min(max_debt, MAX_RESERVE) * supply // y)
        amount_x = self._div_up(shares * x, supply)
        amount_y = self._div_up(shares * y, supply)
    assert shares > 0, "GuardedPool: zero shares"
    assert shares >= min_shares, "GuardedPool: shares below minimum"
    x += amount_x
    y += amount_y
    assert x <= MAX_RESERVE and y <= MAX_RESERVE, "GuardedPool: reserve overflow"

    self._pool = (w & ~MASK_112 & ~(MASK_112 << Y_SHIFT)) | x | (y << Y_SHIFT)
    erc20._mint(receiver, shares)
    assert extcall IERC20(COLLATERAL).transferFrom(msg.sender, self, amount_x, default_return_value=True), "GuardedPool: transfer in failed"
    assert extcall IERC20(DEBT).transferFrom(msg.sender, self, amount_y, default_return_value=True), "GuardedPool: transfer in failed"
    log IGuardedPool.LiquidityAdded(
        provider=msg.sender, receiver=receiver, collateral=amount_x, debt=amount_y, shares=shares,
        reserve_collateral=x, reserve_debt=y, supply=erc20.totalSupply,
    )
    return shares


@external
@nonreentrant
def remove_liquidity(
    shares: uint256,
    min_collateral: uint256,
    min_debt: uint256,
    receiver: address = msg.sender,
) -> (uint256, uint256):
    """
    @notice Burns `shares` for the same fraction of both reserves. Works in every breaker
            state, with or without a valid reference: LP funds are never locked.
    @dev Rounds both amounts down. Calls nothing but the two token transfers.
    @param shares LP shares to burn from the caller.
    @param min_collateral Least collateral accepted, raw units.
    @param min_debt Least debt asset accepted, raw units.
    @param receiver Who receives both assets.
    @return (collateral, debt) paid out.
    """
    w: uint256 = self._record_block_start(self._pool)
    x: uint256 = w & MASK_112
    y: uint256 = (w >> Y_SHIFT) & MASK_112
    supply: uint256 = erc20.totalSupply
    assert shares > 0, "GuardedPool: zero shares"
    erc20._burn(msg.sender, shares)
    amount_x: uint256 = shares * x // supply
    amount_y: uint256 = shares * y // supply
    assert amount_x >= min_collateral, "GuardedPool: collateral below minimum"
    assert amount_y >= min_debt, "GuardedPool: debt below minimum"

    x -= amount_x
    y -= amount_y
    self._pool = (w & ~MASK_112 & ~(MASK_112 << Y_SHIFT)) | x | (y << Y_SHIFT)
    assert extcall IERC20(COLLATERAL).transfer(receiver, amount_x, default_return_value=True), "GuardedPool: transfer out failed"
    assert extcall IERC20(DEBT).transfer(receiver, amount_y, default_return_value=True), "GuardedPool: transfer out failed"
    log IGuardedPool.LiquidityRemoved(
        provider=msg.sender, receiver=receiver, collateral=amount_x, debt=amount_y, shares=shares,
        reserve_collateral=x, reserve_debt=y, supply=supply - shares,
    )
    return amount_x, amount_y


# ---------------------------------------------------------------- breaker and band


@external
@nonreentrant
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    """
    @notice The breaker pushes every stored transition of its market here.
    @dev Only the configured breaker, only for the configured market. Entering NORMAL from
         any other state marks the band centre stale, so the first swap after a halt
         re-reads the reference, unless the auction centred it on its clearing price
         earlier in the same transaction. Nonreentrant: a token hook cannot change the state in the
         middle of a swap (the breaker's transition reverts instead).
    @param market_id The breaker market.
    @param state The breaker's State flag value (NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8).
    @param frozen_price The last valid reference price captured at the trip (logged).
    """
    assert msg.sender == BREAKER, "GuardedPool: caller is not the breaker"
    assert market_id == MARKET_ID, "GuardedPool: wrong market"
    assert (
        state == breaker_states.NORMAL or state == breaker_states.HALTED
        or state == breaker_states.COOLDOWN or state == breaker_states.AUCTION
    ), "GuardedPool: unknown breaker state"
    w: uint256 = self._pool
    old_state: uint256 = (w >> STATE_SHIFT) & MASK_8
    self._pool = (w & ~(MASK_8 << STATE_SHIFT)) | (state << STATE_SHIFT)
    if state == breaker_states.NORMAL and old_state != breaker_states.NORMAL and not self._cleared_by_auction:
        self._band = self._band & ~(MASK_40 << UPDATED_SHIFT)
    log IGuardedPool.BreakerStateChanged(
        market_id=market_id, actor=msg.sender, old_state=old_state, new_state=state, frozen_price=frozen_price
    )


@external
@nonreentrant
def refresh_band() -> uint256:
    """
    @notice Re-centres the price band on the reference price now. Permissionless: the
            centre can only become the reference oracle's own valid price.
    @dev Reverts when the pool has no band or the reference is invalid (the old centre is
         then kept, and stops swaps once it is `max_age_s` old).
    @return The new centre, 18 decimals.
    """
    assert ORACLE != empty(address), "GuardedPool: pool has no price band"
    b: uint256 = self._band
    price: uint256 = 0
    valid_feeds: uint256 = 0
    price, valid_feeds = staticcall IReferenceOracle(ORACLE).latest()
    assert price > 0 and price <= MASK_128, "GuardedPool: reference price invalid"
    self._band = (b & ~CENTRE_AND_TIME) | (block.timestamp << UPDATED_SHIFT) | price
    log IGuardedPool.BandRefreshed(actor=msg.sender, old_centre=b & MASK_128, new_centre=price, valid_feeds=valid_feeds)
    return price


@external
@nonreentrant
def clear_auction(price: uint256, collateral_in: int256, debt_in: int256):
    """
    @notice The reopening auction trades the pool at its uniform clearing price and centres
            the band there; the breaker reopens the market right after.
    @dev Only the configured auction, only while the cached breaker state is AUCTION. The
         trade must be worth at least zero to the pool at `price` (collateral_in * price +
         debt_in >= 0, in value) and bring the pool to `price` up to rounding: spot after
         within REOPEN_TOLERANCE_BPS of `price`, or collateral leg within REOPEN_SLACK raw
         units of the pool's own quote q(price). Positive legs are pulled from the auction
         with `transferFrom`, negative legs are sent to it.
    @param price The clearing price, debt per whole collateral unit, 18 decimals.
    @param collateral_in Collateral the pool receives (negative: pays), raw units.
    @param debt_in Debt asset the pool receives (negative: pays), raw units.
    """
    assert msg.sender == self.auction and msg.sender != empty(address), "GuardedPool: caller is not the auction"
    w: uint256 = self._pool
    assert (w >> STATE_SHIFT) & MASK_8 == breaker_states.AUCTION, "GuardedPool: market not in auction"
    w = self._record_block_start(w)
    assert price > 0 and price <= MASK_128, "GuardedPool: clearing price out of range"
    value: int256 = (
        collateral_in * convert(COLLATERAL_SCALE * price, int256)
        + debt_in * convert(DEBT_SCALE * WAD, int256)
    )
    assert value >= 0, "GuardedPool: trade below the clearing price"
    old_x: uint256 = w & MASK_112
    old_y: uint256 = (w >> Y_SHIFT) & MASK_112
    assert old_x > 0 and old_y > 0, "GuardedPool: pool is empty"
    x: int256 = convert(old_x, int256) + collateral_in
    y: int256 = convert(old_y, int256) + debt_in
    assert x > 0 and y > 0, "GuardedPool: auction trade empties the pool"
    new_x: uint256 = convert(x, uint256)
    new_y: uint256 = convert(y, uint256)
    assert new_x <= MAX_RESERVE and new_y <= MAX_RESERVE, "GuardedPool: reserve overflow"
    spot: uint256 = self._price(new_x, new_y)
    if (max(spot, price) - min(spot, price)) * BPS > price * REOPEN_TOLERANCE_BPS:
        pool_buys: bool = False
        quote: uint256 = 0
        pool_buys, quote = clearing._pool_quote(old_x, old_y, price, COLLATERAL_SCALE, DEBT_SCALE)
        target: int256 = convert(quote, int256)
        if not pool_buys:
            target = -target
        assert abs(collateral_in - target) <= convert(REOPEN_SLACK, int256), "GuardedPool: auction trade misses the clearing price"

    self._pool = (w & ~MASK_112 & ~(MASK_112 << Y_SHIFT)) | new_x | (new_y << Y_SHIFT)
    b: uint256 = self._band
    self._band = (
        (b & ~CENTRE_AND_TIME & ~(MASK_24 << CLEARED_SHIFT))
        | ((block.number & MASK_24) << CLEARED_SHIFT)
        | (block.timestamp << UPDATED_SHIFT)
        | price
    )
    self._cleared_by_auction = True
    self._settle_leg(COLLATERAL, collateral_in)
    self._settle_leg(DEBT, debt_in)
    log IGuardedPool.AuctionCleared(
        actor=msg.sender, price=price, collateral_in=collateral_in, debt_in=debt_in, reserve_collateral=new_x,
        reserve_debt=new_y, old_centre=b & MASK_128,
    )


# ---------------------------------------------------------------- governance


@external
@nonreentrant
def set_auction(new_auction: address):
    """
    @notice Names the reopening auction contract allowed to trade the pool during AUCTION.
    @dev Only the owner (governance). Empty removes it (the auction phase then only
         elapses by time in the breaker, and the pool reopens at its own price).
         Reverts when `new_auction` is neither empty nor a contract. Logs AuctionSet.
    @param new_auction The ReopeningAuction, or the zero address.
    """
    ownable._check_owner()
    assert new_auction == empty(address) or new_auction.is_contract, "GuardedPool: auction is not a contract"
    log IGuardedPool.AuctionSet(actor=msg.sender, old=self.auction, new=new_auction)
    self.auction = new_auction


@external
@nonreentrant
def set_fee_bps(new_fee_bps: uint256):
    """
    @notice Sets the swap fee.
    @dev Only the owner (governance). Bounds [MIN_FEE_BPS, MAX_FEE_BPS]. Logs FeeSet.
    @param new_fee_bps The fee, basis points of the input.
    """
    ownable._check_owner()
    self._check_fee(new_fee_bps)
    w: uint256 = self._pool
    self._pool = (w & ~(MASK_8 << FEE_SHIFT)) | (new_fee_bps << FEE_SHIFT)
    log IGuardedPool.FeeSet(actor=msg.sender, old=(w >> FEE_SHIFT) & MASK_8, new=new_fee_bps)


@external
@nonreentrant
def set_band_bps(new_band_bps: uint256):
    """
    @notice Sets the band half-width around the reference price.
    @dev Only the owner (governance). Bounds [MIN_BAND_BPS, MAX_BAND_BPS]. Logs BandWidthSet.
    @param new_band_bps The half-width, basis points of the centre.
    """
    ownable._check_owner()
    self._check_band_width(new_band_bps)
    b: uint256 = self._band
    self._band = (b & ~(MASK_16 << WIDTH_SHIFT)) | (new_band_bps << WIDTH_SHIFT)
    log IGuardedPool.BandWidthSet(actor=msg.sender, old=(b >> WIDTH_SHIFT) & MASK_16, new=new_band_bps)


@external
@nonreentrant
def set_band_timing(new_refresh_s: uint256, new_max_age_s: uint256):
    """
    @notice Sets when a swap re-reads the reference, and how old a centre may serve while
            the reference is invalid.
    @dev Only the owner (governance). Bounds [MIN_BAND_REFRESH_S, MAX_BAND_REFRESH_S] and
         [MIN_BAND_MAX_AGE_S, MAX_BAND_MAX_AGE_S], refresh <= max age. Logs BandTimingSet.
    @param new_refresh_s Age of the centre after which a swap re-reads the reference, seconds.
    @param new_max_age_s Age after which a centre the reference cannot refresh stops swaps, seconds.
    """
    ownable._check_owner()
    self._check_band_timing(new_refresh_s, new_max_age_s)
    b: uint256 = self._band
    self._band = (
        (b & ~(MASK_16 << REFRESH_SHIFT) & ~(MASK_32 << MAX_AGE_SHIFT))
        | (new_refresh_s << REFRESH_SHIFT)
        | (new_max_age_s << MAX_AGE_SHIFT)
    )
    log IGuardedPool.BandTimingSet(
        actor=msg.sender,
        old_refresh_s=(b >> REFRESH_SHIFT) & MASK_16,
        new_refresh_s=new_refresh_s,
        old_max_age_s=(b >> MAX_AGE_SHIFT) & MASK_32,
        new_max_age_s=new_max_age_s,
    )


# ---------------------------------------------------------------- IVenue views


@external
@view
@nonreentrant
def spot_price() -> uint256:
    """
    @notice Marginal price of one collateral unit in debt units, 18 decimals (0 when empty).
    @dev Anyone may call (not from inside a pool call: nonreentrant).
    @return The spot price, 18 decimals.
    """
    w: uint256 = self._pool
    return self._price(w & MASK_112, (w >> Y_SHIFT) & MASK_112)


@external
@view
@nonreentrant
def depth(band_bps: uint256) -> uint256:
    """
    @notice Debt value (18 decimals) the pool pays out to sellers before its price falls by
            `band_bps`: Y * (1 - sqrt(1 - b)), exact on the x * y = k curve (the fee only
            adds to it and is not counted).
    @dev A band of 100% or more returns all of Y. Anyone may call (nonreentrant).
    @param band_bps The price fall, basis points.
    @return The debt value, 18 decimals.
    """
    return self._depth((self._pool >> Y_SHIFT) & MASK_112, band_bps)


@external
@view
@nonreentrant
def exec_price(notional: uint256) -> uint256:
    """
    @notice Average execution price (18 decimals, fee included) of a sell of collateral
            worth `notional` debt units (18 decimals) at the spot price.
    @dev Anyone may call (nonreentrant).
    @param notional The sell's size in debt units at spot, 18 decimals.
    @return 0 when the pool is empty or the sell is unfillable (above the reserve bound);
            the spot price for a sell too small to be one raw collateral unit.
    """
    w: uint256 = self._pool
    x: uint256 = w & MASK_112
    y: uint256 = (w >> Y_SHIFT) & MASK_112
    spot: uint256 = self._price(x, y)
    if spot == 0 or notional > MAX_NOTIONAL:
        return 0
    amount_in: uint256 = notional * WAD // spot // COLLATERAL_SCALE
    if amount_in == 0:
        return spot
    if amount_in > MAX_RESERVE - x:
        return 0
    amount_out: uint256 = self._amount_out(amount_in, x, y, (w >> FEE_SHIFT) & MASK_8)
    return amount_out * DEBT_SCALE * WAD // (amount_in * COLLATERAL_SCALE)


@external
@view
@nonreentrant
def settled_spot_price() -> uint256:
    """
    @notice `spot_price` as the previous block left the pool: the reserves recorded by this
            block's first reserve change, or the reserves now when nothing changed them yet.
    @dev Anyone may call (nonreentrant).
    @return The settled price, 18 decimals (0 when empty).
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._settled_reserves()
    return self._price(x, y)


@external
@view
@nonreentrant
def settled_depth(band_bps: uint256) -> uint256:
    """
    @notice `depth(band_bps)` as the previous block left the pool.
    @dev Anyone may call (nonreentrant).
    @param band_bps The price fall, basis points.
    @return The settled debt value, 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._settled_reserves()
    return self._depth(y, band_bps)


@external
@view
@nonreentrant
def settled_range(since_block: uint256) -> (uint256, uint256, bool):
    """
    @notice Lowest and highest spot price over the starts of the blocks after `since_block`
            up to this one, and whether the ring reaches back to `since_block`.
    @dev The ring holds the start of every block whose reserves changed; a block that did not
         trade opened at the next recorded start (or at this block's), so the recorded
         starts after `since` and the settled price are all the block starts there were.
         Incomplete when the BLOCK_STARTS latest starts are all after `since_block`.
         Anyone may call (nonreentrant).
    @param since_block A past block number.
    @return (lowest, highest, complete), prices 18 decimals.
    """
    x: uint256 = 0
    y: uint256 = 0
    x, y = self._settled_reserves()
    spot: uint256 = self._price(x, y)
    low: uint256 = spot
    high: uint256 = spot
    head: uint256 = (self._pool >> HEAD_SHIFT) & MASK_5
    for i: uint256 in range(BLOCK_STARTS):
        entry: uint256 = self._block_starts[(head + BLOCK_STARTS - 1 - i) % BLOCK_STARTS]
        if entry >> BLOCK_SHIFT <= since_block:
            return low, high, True
        price: uint256 = self._price(entry & MASK_112, (entry >> Y_SHIFT) & MASK_112)
        if price > 0:
            low = min(low, price)
            high = max(high, price)
    return low, high, False


# ---------------------------------------------------------------- other views


@external
@view
@nonreentrant
def get_amount_out(sell_collateral: bool, amount_in: uint256) -> uint256:
    """
    @notice What `swap` pays for `amount_in` now, ignoring the breaker state and the band.
    @dev Anyone may call (nonreentrant).
    @param sell_collateral True to sell collateral for debt, False to sell debt for collateral.
    @param amount_in The input, raw units.
    @return The output, raw units, after the fee.
    """
    w: uint256 = self._pool
    x: uint256 = w & MASK_112
    y: uint256 = (w >> Y_SHIFT) & MASK_112
    if sell_collateral:
        return self._amount_out(amount_in, x, y, (w >> FEE_SHIFT) & MASK_8)
    return self._amount_out(amount_in, y, x, (w >> FEE_SHIFT) & MASK_8)


@external
@view
def reserves() -> (uint256, uint256):
    """
    @notice (collateral, debt) reserves in raw token units.
    @dev Anyone may call.
    @return (collateral reserve, debt reserve), raw units.
    """
    w: uint256 = self._pool
    return w & MASK_112, (w >> Y_SHIFT) & MASK_112


@external
@view
def breaker_state() -> uint256:
    """
    @notice The breaker state cached from the last push (NORMAL=1, HALTED=2, COOLDOWN=4,
            AUCTION=8); always NORMAL on an unguarded pool.
    @dev Anyone may call.
    @return The state flag.
    """
    return (self._pool >> STATE_SHIFT) & MASK_8


@external
@view
def fee_bps() -> uint256:
    """
    @notice The swap fee in bps of the input.
    @dev Anyone may call.
    @return The fee, basis points.
    """
    return (self._pool >> FEE_SHIFT) & MASK_8


@external
@view
def band() -> Band:
    """
    @notice The band word unpacked: centre (18 decimals, 0 before the first refresh), the
            time it was read (0 when marked stale at a reopening), width and timing.
    @dev Anyone may call.
    @return The band as stored (not refreshed).
    """
    b: uint256 = self._band
    return Band(
        centre=b & MASK_128,
        updated_at=(b >> UPDATED_SHIFT) & MASK_40,
        width_bps=(b >> WIDTH_SHIFT) & MASK_16,
        refresh_s=(b >> REFRESH_SHIFT) & MASK_16,
        max_age_s=(b >> MAX_AGE_SHIFT) & MASK_32,
    )


@external
@view
def band_limits() -> (uint256, uint256):
    """
    @notice (lowest price a sell may leave, highest price a buy may leave), 18 decimals,
            around the cached centre; (0, max) when the pool has no band.
    @dev Anyone may call.
    @return (lower limit, upper limit), 18 decimals.
    """
    if ORACLE == empty(address):
        return 0, max_value(uint256)
    b: uint256 = self._band
    centre: uint256 = b & MASK_128
    width: uint256 = (b >> WIDTH_SHIFT) & MASK_16
    return self._div_up(centre * (BPS - width), BPS), centre * (BPS + width) // BPS


# ---------------------------------------------------------------- internal


@internal
@pure
def _amount_out(amount_in: uint256, r_in: uint256, r_out: uint256, fee_bps: uint256) -> uint256:
    """
    @dev x * y = k with the fee taken from the input; rounds down, so k never decreases.
         Every input is below 2**112, so no product overflows.
    """
    in_after_fee: uint256 = amount_in * (BPS - fee_bps)
    denominator: uint256 = r_in * BPS + in_after_fee
    if denominator == 0:
        return 0
    return in_after_fee * r_out // denominator


@internal
@view
def _price(x: uint256, y: uint256) -> uint256:
    """
    @dev Y * 1e18 / X, rounded down; 0 for an empty pool.
    """
    if x == 0:
        return 0
    return y * DEBT_SCALE * WAD // (x * COLLATERAL_SCALE)


@internal
@view
def _depth(y: uint256, band_bps: uint256) -> uint256:
    """
    @dev Y * (1 - sqrt(1 - b)) in 18 decimals; all of Y for a band of 100% or more.
    """
    y18: uint256 = y * DEBT_SCALE
    if band_bps >= BPS:
        return y18
    root: uint256 = isqrt((BPS - band_bps) * WAD * WAD // BPS)
    return y18 * (WAD - root) // WAD


@internal
@view
def _settled_reserves() -> (uint256, uint256):
    """
    @dev The reserves this block opened with: the latest block start if it is this block's,
         else the reserves now (nothing changed them in this block).
    """
    w: uint256 = self._pool
    last: uint256 = self._block_starts[(((w >> HEAD_SHIFT) & MASK_5) + BLOCK_STARTS - 1) % BLOCK_STARTS]
    if last >> BLOCK_SHIFT == block.number:
        return last & MASK_112, (last >> Y_SHIFT) & MASK_112
    return w & MASK_112, (w >> Y_SHIFT) & MASK_112


@internal
def _record_block_start(w: uint256) -> uint256:
    """
    @dev Called before every reserve change with the pool word: the block's first change
         writes the reserves the block opened with (as Uniswap's oracles accumulate before a
         trade) and returns the word with the ring head and the block mark advanced. The mark
         (low 11 bits of the block number) spares later changes in the block a storage read,
         except when it repeats 2048 blocks apart, where the ring's last start decides.
    """
    mark: uint256 = block.number & MASK_11
    head: uint256 = (w >> HEAD_SHIFT) & MASK_5
    if w >> MARK_SHIFT == mark:
        if self._block_starts[unsafe_sub(unsafe_add(head, BLOCK_STARTS), 1) % BLOCK_STARTS] >> BLOCK_SHIFT == block.number:
            return w
    self._block_starts[head] = (w & MASK_224) | (block.number << BLOCK_SHIFT)
    return (w & MASK_240) | (((head + 1) % BLOCK_STARTS) << HEAD_SHIFT) | (mark << MARK_SHIFT)


@internal
def _refresh_centre(b: uint256) -> uint256:
    """
    @dev The centre is older than `refresh_s` (or marked stale): re-read the reference.
         With an invalid reference the old centre serves until it is `max_age_s` old,
         then swaps revert.
    """
    centre: uint256 = b & MASK_128
    updated_at: uint256 = (b >> UPDATED_SHIFT) & MASK_40
    price: uint256 = 0
    valid_feeds: uint256 = 0
    price, valid_feeds = staticcall IReferenceOracle(ORACLE).latest()
    if price > 0 and price <= MASK_128:
        self._band = (b & ~CENTRE_AND_TIME) | (block.timestamp << UPDATED_SHIFT) | price
        log IGuardedPool.BandRefreshed(actor=msg.sender, old_centre=centre, new_centre=price, valid_feeds=valid_feeds)
        return price
    assert updated_at != 0 and block.timestamp <= updated_at + ((b >> MAX_AGE_SHIFT) & MASK_32), "GuardedPool: reference price invalid and band centre stale"
    return centre


@internal
def _settle_leg(token: address, amount_in: int256):
    """
    @dev Pulls a positive leg from the caller, pays a negative one to it.
    """
    if amount_in > 0:
        assert extcall IERC20(token).transferFrom(msg.sender, self, convert(amount_in, uint256), default_return_value=True), "GuardedPool: transfer in failed"
    elif amount_in < 0:
        assert extcall IERC20(token).transfer(msg.sender, convert(-amount_in, uint256), default_return_value=True), "GuardedPool: transfer out failed"


@internal
@pure
def _raise_closed(state: uint256):
    assert state != breaker_states.HALTED, "GuardedPool: market halted"
    assert state != breaker_states.COOLDOWN, "GuardedPool: market in cooldown"
    raise "GuardedPool: market in reopening auction"


@internal
@pure
def _div_up(a: uint256, b: uint256) -> uint256:
    return (a + b - 1) // b


@internal
@pure
def _check_fee(fee_bps: uint256):
    assert fee_bps >= MIN_FEE_BPS and fee_bps <= MAX_FEE_BPS, "GuardedPool: fee out of bounds"


@internal
@pure
def _check_band_width(band_bps: uint256):
    assert band_bps >= MIN_BAND_BPS and band_bps <= MAX_BAND_BPS, "GuardedPool: band width out of bounds"


@internal
@pure
def _check_band_timing(refresh_s: uint256, max_age_s: uint256):
    assert refresh_s >= MIN_BAND_REFRESH_S and refresh_s <= MAX_BAND_REFRESH_S, "GuardedPool: band refresh out of bounds"
    assert max_age_s >= MIN_BAND_MAX_AGE_S and max_age_s <= MAX_BAND_MAX_AGE_S, "GuardedPool: band max age out of bounds"
    assert max_age_s >= refresh_s, "GuardedPool: band max age below refresh"
