# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title LendingMarket: isolated lending whose liquidations the circuit breaker freezes
@custom:contract-name LendingMarket
@license MIT
@notice One collateral asset, one borrowable asset. Lenders supply the borrowable asset for
        shares and withdraw what is idle; borrowers post collateral and borrow against it
        up to `max_ltv`; a position whose health factor is below one may be liquidated by
        anyone, up to the close factor, for a bonus paid in collateral. Interest accrues
        per second on a kinked utilisation curve (`modules/interest_rate.vy`).

        Glossary (ratios in basis points, prices and values 18 decimals):
          P    collateral price: quote (borrowable asset) per one whole collateral unit
          V    collateral value, collateral * P / COLLATERAL_UNIT
          D    debt in borrowable-asset units; D * DEBT_SCALE is D in 18 decimals
          LT   liquidation threshold; it ramps linearly between values, never jumps
          HF   health factor V * LT / (D * DEBT_SCALE), WAD; liquidatable below one
          U    utilisation, borrows / (borrows + cash)
          I    borrow index, debt per debt share (WAD); grows per second with the rate

        Price source: the reference oracle (`price()`, reverts when invalid) or one venue's
        spot price (`IVenue.spot_price()`): the second reproduces the 10 October failure of
        a lending market trusting a single venue.

        Breaker coupling: the CircuitBreaker pushes every stored transition of the
        collateral's market to `on_breaker_state`. While that state is not NORMAL, positions
        are valued at the frozen price (the last valid reference price at the trip),
        liquidations revert, borrowing and withdrawing collateral against debt revert, and
        the borrow rate is multiplied by the halt multiplier; repaying, adding collateral
        and withdrawing idle liquidity always work, whatever the oracle says. Back in
        NORMAL, liquidations stay closed for min(time not NORMAL, max_grace). With
        `breaker == empty(address)` the same code runs unguarded: the state stays NORMAL.
@custom:kill The owner pauses (`pause`): supplying and borrowing stop; repaying, adding and
        withdrawing collateral, lender withdrawals and liquidations keep working, so the
        market winds down without locking anybody's funds.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.utils import pausable
from .interfaces import IBreakerConsumer
from .interfaces import ILendingMarket
from .interfaces import IReferenceOracle
from .interfaces import IVenue
from .modules import breaker_states
from .modules import interest_rate

implements: IBreakerConsumer
implements: ILendingMarket

initializes: ownable
initializes: pausable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    ownable.renounce_ownership,
    pausable.paused,
    # the breaker's state words, as `on_breaker_state` receives them
    breaker_states.NORMAL,
    breaker_states.HALTED,
    breaker_states.COOLDOWN,
    breaker_states.AUCTION,
)


struct Position:
    collateral: uint256
    debt_shares: uint256


# @dev Unpacked view of the packed breaker cache (`_guard`).
struct Guard:
    state: uint256
    since: uint256
    grace_until: uint256


# @dev Unpacked view of the packed liquidation-threshold ramp (`_ramp`).
struct Ramp:
    from_bps: uint256
    to_bps: uint256
    start: uint256
    end: uint256


# @dev One position a threshold change would make liquidatable (`preview_threshold`).
struct Preview:
    borrower: address
    health_now: uint256
    health_new: uint256


# @dev One in 18-decimal fixed point.
WAD: constant(uint256) = 10**18
# @dev One in basis points.
BPS: constant(uint256) = 10_000
# @dev Price source kinds.
PRICE_ORACLE: public(constant(uint256)) = 1  # reference oracle `price()`
PRICE_VENUE: public(constant(uint256)) = 2  # one venue's `spot_price()`
# @dev Virtual shares and assets: the first supplier cannot set an arbitrary share price.
VIRTUAL_SHARES: constant(uint256) = 1
VIRTUAL_ASSETS: constant(uint256) = 1
# @dev Most borrowers one `preview_threshold` call looks at (bounds its work).
MAX_PREVIEW: public(constant(uint256)) = 100
# Largest amount or share count one call takes: far above any token's supply, and small enough
# that amount * share total cannot overflow, so a huge input gets a reason instead of a panic.
MAX_AMOUNT: public(constant(uint256)) = 2**128 - 1
# @dev Most decimals a token may have (values are scaled to 18 decimals).
MAX_DECIMALS: constant(uint8) = 18
# @dev Most consumers a breaker market lists (the CircuitBreaker's MAX_CONSUMERS), and the size of
#      its ABI-encoded `consumers` answer (offset, length, one word each).
MAX_BREAKER_CONSUMERS: constant(uint256) = 8
CONSUMERS_OUTSIZE: constant(uint256) = 64 + 32 * MAX_BREAKER_CONSUMERS
# @dev Bit masks of the packed words.
MASK_8: constant(uint256) = 2**8 - 1
MASK_16: constant(uint256) = 2**16 - 1
MASK_40: constant(uint256) = 2**40 - 1

# @dev Liquidation threshold bounds, and the least gap kept between max LTV and it.
MIN_LIQUIDATION_THRESHOLD_BPS: public(constant(uint256)) = 5_000
MAX_LIQUIDATION_THRESHOLD_BPS: public(constant(uint256)) = 9_500
MIN_LTV_GAP_BPS: public(constant(uint256)) = 500
# @dev Longest threshold ramp (the shortest is the `ramp_min_s` parameter).
MAX_RAMP_S: public(constant(uint256)) = 90 * 86_400

# @dev Parameter keys: index into `params`. Bounds sit next to each key.
NUM_PARAMS: public(constant(uint256)) = 10
P_MAX_LTV_BPS: public(constant(uint256)) = 0  # default 7000, bounds [1000, 9000], <= LT - gap
P_CLOSE_FACTOR_BPS: public(constant(uint256)) = 1  # default 5000, bounds [1000, 10000]
P_LIQUIDATION_BONUS_BPS: public(constant(uint256)) = 2  # default 500, bounds [0, 2000], LT * (1 + bonus) < 1
P_BASE_RATE: public(constant(uint256)) = 3  # per year WAD, default 0, bounds [0, 0.1e18]
P_SLOPE_1: public(constant(uint256)) = 4  # per year WAD, default 0.04e18, bounds [0, 1e18]
P_SLOPE_2: public(constant(uint256)) = 5  # per year WAD, default 0.75e18, bounds [0, 10e18]
P_KINK_BPS: public(constant(uint256)) = 6  # default 8000, bounds [5000, 9500]
P_HALT_RATE_MULTIPLIER_BPS: public(constant(uint256)) = 7  # default 10000 (1x), bounds [10000, 50000]
P_MAX_GRACE_S: public(constant(uint256)) = 8  # default 3600, bounds [300, 14400] (4 h)
P_RAMP_MIN_S: public(constant(uint256)) = 9  # default 86400, bounds [21600, 2592000]

PARAM_MIN: constant(uint256[NUM_PARAMS]) = [1_000, 1_000, 0, 0, 0, 0, 5_000, 10_000, 300, 21_600]
PARAM_MAX: constant(uint256[NUM_PARAMS]) = [
    9_000, 10_000, 2_000, 10**17, 10**18, 10 * 10**18, 9_500, 50_000, 14_400, 2_592_000
]


# @dev The borrowable asset (lenders supply it, borrowers borrow it).
borrow_token: public(immutable(address))
# @dev The collateral asset.
collateral_token: public(immutable(address))
# @dev 10**(18 - borrowable decimals): scales debt to 18 decimals.
DEBT_SCALE: immutable(uint256)
# @dev 10**collateral decimals: one whole collateral unit.
COLLATERAL_UNIT: immutable(uint256)

# @dev The circuit breaker allowed to push states; empty(address) runs unguarded.
breaker: public(address)
# @dev The breaker's market id of the collateral (only its transitions are accepted).
breaker_market_id: public(uint256)
# @dev PRICE_ORACLE or PRICE_VENUE.
price_kind: public(uint256)
# @dev The reference oracle or the venue the live price is read from.
price_source: public(address)
# @dev Risk and rate parameters, indexed by the P_* keys.
params: public(uint256[NUM_PARAMS])
# @dev Packed liquidation-threshold ramp: from (16 bits), to (16), start (40), end (40).
_ramp: uint256
# @dev Packed breaker cache: state (8 bits), since (40, when it left NORMAL), grace_until (40).
_guard: uint256
# @dev Collateral price pushed by the breaker at the trip (18 decimals); used while not NORMAL.
frozen_price: public(uint256)
# @dev Debt per debt share (WAD), as of `last_accrual`.
borrow_index: public(uint256)
# @dev Timestamp of the last interest accrual.
last_accrual: public(uint256)
# @dev Interest added to the borrows since deployment (borrowable-asset units).
interest_accrued: public(uint256)
# @dev Idle borrowable asset held for lenders (tracked, so donations change nothing).
cash: public(uint256)
# @dev Lender shares outstanding.
total_shares: public(uint256)
# @dev Debt shares outstanding; total borrows = total_debt_shares * I / WAD.
total_debt_shares: public(uint256)
# @dev Lender shares of each lender.
shares_of: public(HashMap[address, uint256])
# @dev Collateral and debt shares of each borrower.
positions: public(HashMap[address, Position])


event Supplied:
    lender: indexed(address)
    assets: uint256
    shares: uint256
    total_assets: uint256
    total_shares: uint256

event Withdrawn:
    lender: indexed(address)
    assets: uint256
    shares: uint256
    total_assets: uint256
    total_shares: uint256

event CollateralDeposited:
    payer: indexed(address)
    borrower: indexed(address)
    amount: uint256
    collateral: uint256

event CollateralWithdrawn:
    borrower: indexed(address)
    amount: uint256
    collateral: uint256
    debt: uint256

event Borrowed:
    borrower: indexed(address)
    amount: uint256
    debt: uint256
    collateral: uint256
    price: uint256

event Repaid:
    payer: indexed(address)
    borrower: indexed(address)
    amount: uint256
    debt: uint256

event Liquidated:
    liquidator: indexed(address)
    borrower: indexed(address)
    repaid: uint256
    seized: uint256
    price: uint256
    threshold_bps: uint256
    health_before: uint256
    debt: uint256
    collateral: uint256

event BadDebtRealized:
    borrower: indexed(address)
    liquidator: indexed(address)
    amount: uint256

event BreakerStateReceived:
    breaker: indexed(address)
    market_id: indexed(uint256)
    old_state: uint256
    new_state: uint256
    frozen_price: uint256
    grace_until: uint256

event ParameterSet:
    key: indexed(uint256)
    old: uint256
    new: uint256
    actor: indexed(address)

event ThresholdRampStarted:
    actor: indexed(address)
    old_bps: uint256
    new_bps: uint256
    start: uint256
    end: uint256

event BreakerSet:
    actor: indexed(address)
    old_breaker: address
    new_breaker: address
    old_market_id: uint256
    new_market_id: uint256

event PriceSourceSet:
    actor: indexed(address)
    old_kind: uint256
    new_kind: uint256
    old_source: address
    new_source: address


@deploy
def __init__(
    borrow_asset: address,
    collateral_asset: address,
    price_kind: uint256,
    price_source: address,
    breaker: address,
    breaker_market_id: uint256,
    liquidation_threshold_bps: uint256,
    market_params: uint256[NUM_PARAMS],
):
    """
    @notice The deployer is the owner (governance) until it transfers ownership.
    @dev Reverts when a token is not a contract, the tokens are the same, a token has more than
         18 decimals, the price source is of an unknown kind or not a contract, the threshold or
         a parameter is out of bounds, or max LTV and the bonus do not fit the threshold (as
         `set_param`). Logs PriceSourceSet, BreakerSet, ParameterSet per key and
         ThresholdRampStarted.
    @param borrow_asset The token lenders supply and borrowers borrow.
    @param collateral_asset The token borrowers post as collateral.
    @param price_kind PRICE_ORACLE or PRICE_VENUE.
    @param price_source The reference oracle or the venue the live price is read from.
    @param breaker The CircuitBreaker, or empty(address) for the unguarded variant. The
           breaker's governance must then `add_consumer(breaker_market_id, this)`.
    @param breaker_market_id The collateral's market id in `breaker`.
    @param liquidation_threshold_bps The initial LT (no ramp at deployment).
    @param market_params The initial parameters, indexed by the P_* keys.
    """
    ownable.__init__()
    pausable.__init__()
    assert borrow_asset.is_contract and collateral_asset.is_contract, "LendingMarket: token is not a contract"
    assert borrow_asset != collateral_asset, "LendingMarket: same token twice"
    borrow_decimals: uint8 = staticcall IERC20Detailed(borrow_asset).decimals()
    collateral_decimals: uint8 = staticcall IERC20Detailed(collateral_asset).decimals()
    assert borrow_decimals <= MAX_DECIMALS and collateral_decimals <= MAX_DECIMALS, "LendingMarket: too many decimals"
    borrow_token = borrow_asset
    collateral_token = collateral_asset
    DEBT_SCALE = 10 ** convert(MAX_DECIMALS - borrow_decimals, uint256)
    COLLATERAL_UNIT = 10 ** convert(collateral_decimals, uint256)

    self._set_price_source(price_kind, price_source)
    self.breaker = breaker
    self.breaker_market_id = breaker_market_id
    log BreakerSet(
        actor=msg.sender, old_breaker=empty(address), new_breaker=breaker, old_market_id=0,
        new_market_id=breaker_market_id,
    )

    self._check_threshold_bounds(liquidation_threshold_bps)
    for key: uint256 in range(NUM_PARAMS):
        self._check_bounds(key, market_params[key])
    self._check_consistency(market_params, liquidation_threshold_bps, liquidation_threshold_bps)
    self.params = market_params
    for key: uint256 in range(NUM_PARAMS):
        log ParameterSet(key=key, old=0, new=market_params[key], actor=msg.sender)
    self._store_ramp(Ramp(
        from_bps=liquidation_threshold_bps, to_bps=liquidation_threshold_bps, start=block.timestamp,
        end=block.timestamp,
    ))
    log ThresholdRampStarted(
        actor=msg.sender, old_bps=0, new_bps=liquidation_threshold_bps, start=block.timestamp,
        end=block.timestamp,
    )

    self._store_guard(Guard(state=breaker_states.NORMAL, since=0, grace_until=0))
    self.borrow_index = WAD
    self.last_accrual = block.timestamp


# ---------------------------------------------------------------- lenders


@external
@nonreentrant
def supply(assets: uint256) -> uint256:
    """
    @notice Supplies `assets` of the borrowable asset for lender shares.
    @dev Anyone may call. Stops while paused (the kill switch). Reverts on zero, above
         MAX_AMOUNT, or when the amount buys no share. Logs Supplied.
    @param assets The borrowable asset to supply, raw units (pulled from the caller).
    @return The shares minted.
    """
    pausable._require_not_paused()
    assert assets > 0, "LendingMarket: zero amount"
    assert assets <= MAX_AMOUNT, "LendingMarket: amount out of bounds"
    borrows: uint256 = self._accrue(self._guard & MASK_8)[1]
    total_assets: uint256 = self.cash + borrows
    total_shares: uint256 = self.total_shares
    shares: uint256 = assets * (total_shares + VIRTUAL_SHARES) // (total_assets + VIRTUAL_ASSETS)
    assert shares > 0, "LendingMarket: zero shares"
    self.shares_of[msg.sender] += shares
    self.total_shares = total_shares + shares
    self.cash += assets
    self._transfer_in(borrow_token, msg.sender, assets)
    log Supplied(
        lender=msg.sender, assets=assets, shares=shares, total_assets=total_assets + assets,
        total_shares=total_shares + shares,
    )
    return shares


@external
@nonreentrant
def withdraw(assets: uint256) -> uint256:
    """
    @notice Withdraws `assets` of the borrowable asset, burning the shares they are worth
            (rounded up). Works in every breaker state, as far as liquidity is idle.
    @dev Any lender, for its own shares. Reverts on zero, above MAX_AMOUNT, with too few
         shares or too little idle cash. Logs Withdrawn.
    @param assets The borrowable asset to receive, raw units.
    @return The shares burned.
    """
    assert assets > 0, "LendingMarket: zero amount"
    assert assets <= MAX_AMOUNT, "LendingMarket: amount out of bounds"
    borrows: uint256 = self._accrue(self._guard & MASK_8)[1]
    total_assets: uint256 = self.cash + borrows
    total_shares: uint256 = self.total_shares
    shares: uint256 = self._ceil_div(assets * (total_shares + VIRTUAL_SHARES), total_assets + VIRTUAL_ASSETS)
    self._exit(shares, assets, total_assets, total_shares)
    return shares


@external
@nonreentrant
def redeem(shares: uint256) -> uint256:
    """
    @notice Burns `shares` for the borrowable asset they are worth (rounded down). Works in
            every breaker state, as far as liquidity is idle.
    @dev Any lender, for its own shares. Reverts on zero, above MAX_AMOUNT, when the shares
         are worth nothing, with too few shares or too little idle cash. Logs Withdrawn.
    @param shares The shares to burn.
    @return The assets paid out.
    """
    assert shares > 0, "LendingMarket: zero amount"
    assert shares <= MAX_AMOUNT, "LendingMarket: amount out of bounds"
    borrows: uint256 = self._accrue(self._guard & MASK_8)[1]
    total_assets: uint256 = self.cash + borrows
    total_shares: uint256 = self.total_shares
    assets: uint256 = shares * (total_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES)
    assert assets > 0, "LendingMarket: zero amount"
    self._exit(shares, assets, total_assets, total_shares)
    return assets


# ---------------------------------------------------------------- borrowers


@external
@nonreentrant
def deposit_collateral(borrower: address, amount: uint256):
    """
    @notice Adds `amount` of collateral to `borrower`'s position, paid by the caller.
            Always works: any breaker state, paused or not, oracle valid or not.
    @dev Anyone may call. Reverts on zero, above MAX_AMOUNT, or the zero borrower. Logs
         CollateralDeposited.
    @param borrower The position credited.
    @param amount Collateral, raw units (pulled from the caller).
    """
    assert amount > 0, "LendingMarket: zero amount"
    assert amount <= MAX_AMOUNT, "LendingMarket: amount out of bounds"
    assert borrower != empty(address), "LendingMarket: zero borrower"
    collateral: uint256 = self.positions[borrower].collateral + amount
    self.positions[borrower].collateral = collateral
    self._transfer_in(collateral_token, msg.sender, amount)
    log CollateralDeposited(payer=msg.sender, borrower=borrower, amount=amount, collateral=collateral)


@external
@nonreentrant
def withdraw_collateral(amount: uint256):
    """
    @notice Withdraws `amount` of the caller's collateral. With debt outstanding it needs
            the breaker state NORMAL, a valid live price, and the position within max LTV
            afterwards; without debt it always works.
    @dev The borrower, for its own position. Reverts naming the failed check. Logs
         CollateralWithdrawn.
    @param amount Collateral, raw units.
    """
    assert amount > 0, "LendingMarket: zero amount"
    state: uint256 = self._guard & MASK_8
    index: uint256 = self._accrue(state)[0]
    pos: Position = self.positions[msg.sender]
    assert amount <= pos.collateral, "LendingMarket: not enough collateral"
    pos.collateral -= amount
    debt: uint256 = 0
    if pos.debt_shares > 0:
        assert state == breaker_states.NORMAL, "LendingMarket: collateral withdrawal blocked by the breaker"
        debt = self._debt(pos.debt_shares, index)
        assert self._within_ltv(pos.collateral, debt, self._live_price()), "LendingMarket: withdrawal above max ltv"
    self.positions[msg.sender].collateral = pos.collateral
    self._transfer_out(collateral_token, msg.sender, amount)
    log CollateralWithdrawn(borrower=msg.sender, amount=amount, collateral=pos.collateral, debt=debt)


@external
@nonreentrant
def borrow(amount: uint256):
    """
    @notice Borrows `amount` of the borrowable asset against the caller's collateral, up
            to max LTV at the live price. Needs the breaker state NORMAL; stops while paused.
    @dev Anyone with collateral, for its own position. Reverts on zero, above the idle cash,
         above max LTV, or when the live price is invalid. Logs Borrowed.
    @param amount The borrowable asset, raw units.
    """
    pausable._require_not_paused()
    assert amount > 0, "LendingMarket: zero amount"
    state: uint256 = self._guard & MASK_8
    assert state == breaker_states.NORMAL, "LendingMarket: borrowing blocked by the breaker"
    index: uint256 = self._accrue(state)[0]
    cash: uint256 = self.cash
    assert amount <= cash, "LendingMarket: not enough idle liquidity"
    pos: Position = self.positions[msg.sender]
    shares: uint256 = self._ceil_div(amount * WAD, index)
    pos.debt_shares += shares
    debt: uint256 = self._debt(pos.debt_shares, index)
    price: uint256 = self._live_price()
    assert self._within_ltv(pos.collateral, debt, price), "LendingMarket: borrow above max ltv"
    self.positions[msg.sender].debt_shares = pos.debt_shares
    self.total_debt_shares += shares
    self.cash = cash - amount
    self._transfer_out(borrow_token, msg.sender, amount)
    log Borrowed(borrower=msg.sender, amount=amount, debt=debt, collateral=pos.collateral, price=price)


@external
@nonreentrant
def repay(borrower: address, amount: uint256) -> uint256:
    """
    @notice Repays up to `amount` of `borrower`'s debt, paid by the caller; max_value(uint256)
            repays all of it. Always works: any breaker state, paused or not, oracle valid
            or not (it reads no price).
    @dev Anyone may call, for any borrower. Reverts on zero or a position without debt. Logs
         Repaid.
    @param borrower The position repaid.
    @param amount The most to pay, raw units; max_value(uint256) for all.
    @return The amount paid.
    """
    assert amount > 0, "LendingMarket: zero amount"
    index: uint256 = self._accrue(self._guard & MASK_8)[0]
    debt_shares: uint256 = self.positions[borrower].debt_shares
    assert debt_shares > 0, "LendingMarket: no debt"
    paid: uint256 = 0
    burned: uint256 = 0
    paid, burned = self._repay_shares(debt_shares, amount, index)
    self.positions[borrower].debt_shares = debt_shares - burned
    self.total_debt_shares -= burned
    self.cash += paid
    self._transfer_in(borrow_token, msg.sender, paid)
    log Repaid(payer=msg.sender, borrower=borrower, amount=paid, debt=self._debt(debt_shares - burned, index))
    return paid


# ---------------------------------------------------------------- liquidators


@external
@nonreentrant
def liquidate(borrower: address, max_repay: uint256) -> (uint256, uint256):
    """
    @notice Repays up to `max_repay` (and at most the close factor) of an unhealthy
            position's debt and takes collateral worth the repayment plus the bonus, at the
            live price. Permissionless. Reverts while the breaker state is not NORMAL and
            during the grace period after it returns to NORMAL.
            When the last collateral goes, the debt left is written off (bad debt,
            `BadDebtRealized`): the lenders' share price takes the loss at once.
    @dev Also reverts on zero, a position without debt or healthy at the live price, and an
         invalid live price. Logs Liquidated.
    @param borrower The unhealthy position.
    @param max_repay The most borrowable asset the caller pays, raw units.
    @return (repaid, seized): borrowable asset paid, collateral received.
    """
    guard: uint256 = self._guard
    assert guard & MASK_8 == breaker_states.NORMAL, "LendingMarket: liquidations frozen by the breaker"
    assert block.timestamp >= (guard >> 48) & MASK_40, "LendingMarket: liquidation grace period"
    assert max_repay > 0, "LendingMarket: zero amount"
    index: uint256 = self._accrue(breaker_states.NORMAL)[0]
    pos: Position = self.positions[borrower]
    debt: uint256 = self._debt(pos.debt_shares, index)
    assert debt > 0, "LendingMarket: no debt"
    price: uint256 = self._live_price()
    threshold: uint256 = self._threshold(self._load_ramp())
    health: uint256 = self._health(pos.collateral, debt, price, threshold)
    assert health < WAD, "LendingMarket: position is healthy"

    cap: uint256 = debt * self.params[P_CLOSE_FACTOR_BPS] // BPS
    repay: uint256 = min(max_repay, cap if cap > 0 else debt)
    bonus: uint256 = self.params[P_LIQUIDATION_BONUS_BPS]
    seized: uint256 = repay * DEBT_SCALE * (BPS + bonus) // BPS * COLLATERAL_UNIT // price
    if seized > pos.collateral:
        # Not enough collateral for the bonus: take all of it and pay its value less the bonus.
        seized = pos.collateral
        repay = min(self._ceil_div(seized * price // COLLATERAL_UNIT * BPS, (BPS + bonus) * DEBT_SCALE), debt)
        assert repay > 0, "LendingMarket: nothing to liquidate"
    paid: uint256 = 0
    burned: uint256 = 0
    paid, burned = self._repay_shares(pos.debt_shares, repay, index)

    pos.debt_shares -= burned
    pos.collateral -= seized
    bad_debt: uint256 = 0
    if pos.collateral == 0 and pos.debt_shares > 0:
        # No collateral left behind the rest of the debt: the lenders take the loss now
        # rather than hold a claim that only the last to withdraw would find empty.
        bad_debt = self._debt(pos.debt_shares, index)
        burned += pos.debt_shares
        pos.debt_shares = 0
    self.positions[borrower] = pos
    self.total_debt_shares -= burned
    self.cash += paid
    self._transfer_in(borrow_token, msg.sender, paid)
    self._transfer_out(collateral_token, msg.sender, seized)
    log Liquidated(
        liquidator=msg.sender, borrower=borrower, repaid=paid, seized=seized, price=price,
        threshold_bps=threshold, health_before=health, debt=self._debt(pos.debt_shares, index),
        collateral=pos.collateral,
    )
    if bad_debt > 0:
        log BadDebtRealized(borrower=borrower, liquidator=msg.sender, amount=bad_debt)
    return paid, seized


# ---------------------------------------------------------------- breaker


@external
@nonreentrant
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    """
    @notice Called by the configured CircuitBreaker on every stored transition of the
            collateral's market. Leaving NORMAL records the time; returning to NORMAL opens
            a liquidation grace period of min(time not NORMAL, max_grace).
    @dev Accrues interest first, so the elapsed time is charged at the old state's rate.
         Only the configured breaker, only for `breaker_market_id` and a known state. Logs
         BreakerStateReceived.
    @param market_id The breaker's market; must be `breaker_market_id`.
    @param state NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8.
    @param frozen_price The last valid reference price captured at the trip (18 decimals);
           kept unless positive.
    """
    assert msg.sender == self.breaker, "LendingMarket: caller is not the breaker"
    assert market_id == self.breaker_market_id, "LendingMarket: unknown breaker market"
    assert (
        state == breaker_states.NORMAL or state == breaker_states.HALTED
        or state == breaker_states.COOLDOWN or state == breaker_states.AUCTION
    ), "LendingMarket: unknown breaker state"
    g: Guard = self._load_guard()
    self._accrue(g.state)
    if state != breaker_states.NORMAL and frozen_price > 0:
        self.frozen_price = frozen_price
    new: Guard = self._next_guard(g, state)
    self._store_guard(new)
    log BreakerStateReceived(
        breaker=msg.sender, market_id=market_id, old_state=g.state, new_state=state,
        frozen_price=self.frozen_price, grace_until=new.grace_until,
    )


# ---------------------------------------------------------------- governance


@external
@nonreentrant
def set_param(key: uint256, new_value: uint256):
    """
    @notice Sets one parameter within its bounds (see the P_* keys).
    @dev Only the owner. Interest is accrued at the old rates first. Reverts for an unknown
         key, a value out of bounds, or max LTV and the bonus no longer fitting the threshold
         (along its ramp). Logs ParameterSet.
    @param key The parameter key (P_*).
    @param new_value The new value, in the key's unit.
    """
    ownable._check_owner()
    assert key < NUM_PARAMS, "LendingMarket: unknown parameter"
    self._check_bounds(key, new_value)
    self._accrue(self._guard & MASK_8)
    updated: uint256[NUM_PARAMS] = self.params
    old_value: uint256 = updated[key]
    updated[key] = new_value
    ramp: Ramp = self._load_ramp()
    current: uint256 = self._threshold(ramp)
    self._check_consistency(updated, min(current, ramp.to_bps), max(current, ramp.to_bps))
    self.params[key] = new_value
    log ParameterSet(key=key, old=old_value, new=new_value, actor=msg.sender)


@external
@nonreentrant
def set_liquidation_threshold(new_bps: uint256, duration: uint256):
    """
    @notice Moves the liquidation threshold linearly from its current value to `new_bps`
            over `duration` seconds, starting now: never a jump (an abrupt cut liquidates
            every position between the old and the new threshold in one block). A ramp in
            progress is replaced, starting from the value it has reached.
    @dev Only the owner. `duration` is at least the `ramp_min_s` parameter and at most
         MAX_RAMP_S. Reverts when `new_bps` is out of bounds, equals the current threshold, or
         does not fit max LTV and the bonus. Logs ThresholdRampStarted.
    @param new_bps The target threshold, basis points.
    @param duration The ramp's length, seconds.
    """
    ownable._check_owner()
    self._check_threshold_bounds(new_bps)
    assert duration >= self.params[P_RAMP_MIN_S] and duration <= MAX_RAMP_S, "LendingMarket: ramp duration out of bounds"
    current: uint256 = self._threshold(self._load_ramp())
    assert new_bps != current, "LendingMarket: threshold unchanged"
    self._check_consistency(self.params, min(current, new_bps), max(current, new_bps))
    self._store_ramp(Ramp(from_bps=current, to_bps=new_bps, start=block.timestamp, end=block.timestamp + duration))
    log ThresholdRampStarted(
        actor=msg.sender, old_bps=current, new_bps=new_bps, start=block.timestamp, end=block.timestamp + duration
    )


@external
@nonreentrant
def set_breaker(new_breaker: address, new_market_id: uint256):
    """
    @notice Points the market at another breaker (or empty(address): unguarded). A cached
            non-NORMAL state returns to NORMAL with the usual grace period, so detaching
            never opens liquidations at once.
    @dev Only the owner. The new breaker's governance then adds this market as a consumer,
         which pushes its current state. Reverts while the old breaker still lists this market
         as a consumer of the old market: its pushes would then revert here ("caller is not
         the breaker") and with them every transition of that breaker market, for all its
         consumers. Remove the consumer there first; an old breaker that does not answer
         `consumers` (broken, or not a breaker) does not block the switch.
    @param new_breaker The CircuitBreaker to follow, or empty(address) for none.
    @param new_market_id The collateral's market id in `new_breaker`.
    """
    ownable._check_owner()
    old_breaker: address = self.breaker
    old_market_id: uint256 = self.breaker_market_id
    assert not self._listed_by(old_breaker, old_market_id), "LendingMarket: still a consumer of the old breaker market, remove it there first"
    g: Guard = self._load_guard()
    self._accrue(g.state)
    self._store_guard(self._next_guard(g, breaker_states.NORMAL))
    self.breaker = new_breaker
    self.breaker_market_id = new_market_id
    log BreakerSet(
        actor=msg.sender, old_breaker=old_breaker, new_breaker=new_breaker, old_market_id=old_market_id,
        new_market_id=new_market_id,
    )


@external
@nonreentrant
def set_price_source(new_kind: uint256, new_source: address):
    """
    @notice Sets where the live collateral price comes from: PRICE_ORACLE (reference
            oracle) or PRICE_VENUE (one venue's spot price).
    @dev Only the owner. Reverts for an unknown kind or a source that is not a contract. Logs
         PriceSourceSet.
    @param new_kind PRICE_ORACLE or PRICE_VENUE.
    @param new_source The reference oracle or the venue.
    """
    ownable._check_owner()
    self._set_price_source(new_kind, new_source)


@external
@nonreentrant
def pause():
    """
    @notice Kill switch: stops supplying and borrowing; everything that reduces risk or
            returns funds keeps working.
    @dev Only the owner.
    """
    ownable._check_owner()
    pausable._pause()


@external
@nonreentrant
def unpause():
    """
    @notice Lifts the pause.
    @dev Only the owner.
    """
    ownable._check_owner()
    pausable._unpause()


# ---------------------------------------------------------------- views


@external
@view
def total_borrows() -> uint256:
    """
    @notice Debt outstanding now, interest included (borrowable-asset units).
    @dev Anyone may call.
    @return Total borrows, raw units.
    """
    return self._accrued(self._guard & MASK_8)[1]


@external
@view
def total_assets() -> uint256:
    """
    @notice What the lenders' shares are worth now: idle cash plus borrows.
    @dev Anyone may call.
    @return Total assets, raw units.
    """
    return self.cash + self._accrued(self._guard & MASK_8)[1]


@external
@view
def assets_of(lender: address) -> uint256:
    """
    @notice What `lender`'s shares are worth now (rounded down).
    @dev Anyone may call.
    @param lender The lender.
    @return The borrowable asset, raw units.
    """
    total_assets: uint256 = self.cash + self._accrued(self._guard & MASK_8)[1]
    return self.shares_of[lender] * (total_assets + VIRTUAL_ASSETS) // (self.total_shares + VIRTUAL_SHARES)


@external
@view
def debt_of(borrower: address) -> uint256:
    """
    @notice `borrower`'s debt now, interest included (rounded up).
    @dev Anyone may call.
    @param borrower The borrower.
    @return The debt, raw units.
    """
    return self._debt(self.positions[borrower].debt_shares, self._accrued(self._guard & MASK_8)[0])


@external
@view
def collateral_of(borrower: address) -> uint256:
    """
    @notice `borrower`'s collateral.
    @dev Anyone may call.
    @param borrower The borrower.
    @return The collateral, raw units.
    """
    return self.positions[borrower].collateral


@external
@view
def collateral_price() -> uint256:
    """
    @notice The price positions are valued at now: live while NORMAL, frozen otherwise.
    @dev Reverts with the oracle's reason when the live price is invalid. Anyone may call.
    @return The price, 18 decimals.
    """
    return self._valuation_price(self._guard & MASK_8)


@external
@view
def health_factor(borrower: address) -> uint256:
    """
    @notice `borrower`'s health factor (WAD) at the valuation price and the current
            threshold; max_value(uint256) without debt. Liquidatable below 1e18.
    @dev Anyone may call; with debt, reverts when the valuation price is invalid.
    @param borrower The borrower.
    @return The health factor, 18 decimals.
    """
    state: uint256 = self._guard & MASK_8
    debt: uint256 = self._debt(self.positions[borrower].debt_shares, self._accrued(state)[0])
    if debt == 0:
        return max_value(uint256)
    return self._health(
        self.positions[borrower].collateral, debt, self._valuation_price(state), self._threshold(self._load_ramp())
    )


@external
@view
def is_liquidatable(borrower: address) -> bool:
    """
    @notice Whether `liquidate(borrower, ...)` would pass the market's checks now (breaker
            state, grace period, health at the live price).
    @dev Anyone may call; reverts when the live price is read and invalid.
    @param borrower The borrower.
    @return Whether the position can be liquidated now.
    """
    g: Guard = self._load_guard()
    if g.state != breaker_states.NORMAL or block.timestamp < g.grace_until:
        return False
    debt: uint256 = self._debt(self.positions[borrower].debt_shares, self._accrued(g.state)[0])
    if debt == 0:
        return False
    return self._health(self.positions[borrower].collateral, debt, self._live_price(), self._threshold(self._load_ramp())) < WAD


@external
@view
def liquidation_threshold() -> uint256:
    """
    @notice The liquidation threshold now (basis points), on its ramp.
    @dev Anyone may call.
    @return The threshold, basis points.
    """
    return self._threshold(self._load_ramp())


@external
@view
def threshold_ramp() -> Ramp:
    """
    @notice The current or last threshold ramp.
    @dev Anyone may call.
    @return The ramp.
    """
    return self._load_ramp()


@external
@view
def guard() -> Guard:
    """
    @notice The cached breaker state, when it left NORMAL, and the end of the grace period.
    @dev Anyone may call.
    @return The guard.
    """
    return self._load_guard()


@external
@view
def breaker_state() -> uint256:
    """
    @notice The cached breaker state (NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8).
    @dev Anyone may call.
    @return The state flag.
    """
    return self._guard & MASK_8


@external
@view
def borrow_rate() -> uint256:
    """
    @notice The borrow rate now, per second (WAD), halt multiplier included.
    @dev Anyone may call.
    @return The rate per second, 18 decimals.
    """
    state: uint256 = self._guard & MASK_8
    return self._rate_per_s(self._accrued(state)[1], self.cash, state)


@external
@view
def utilization() -> uint256:
    """
    @notice borrows / (borrows + cash) now (WAD).
    @dev Anyone may call.
    @return The utilisation, 18 decimals.
    """
    return interest_rate._utilization(self._accrued(self._guard & MASK_8)[1], self.cash)


@external
@view
def preview_threshold(new_bps: uint256, borrowers: DynArray[address, MAX_PREVIEW]) -> DynArray[Preview, MAX_PREVIEW]:
    """
    @notice Which of `borrowers` a liquidation threshold of `new_bps`, applied at once,
            would make liquidatable at the valuation price now that are not liquidatable
            at the current threshold. Bounded work: at most MAX_PREVIEW positions per call
            (scripts/preview_threshold.py pages through every borrower from the events).
    @dev Anyone may call; reverts when `new_bps` is out of bounds or the valuation price is
         invalid.
    @param new_bps The threshold to preview, basis points.
    @param borrowers The positions to check (borrowers without debt are skipped).
    @return The positions the new threshold would make liquidatable, with both health factors.
    """
    self._check_threshold_bounds(new_bps)
    state: uint256 = self._guard & MASK_8
    index: uint256 = self._accrued(state)[0]
    price: uint256 = self._valuation_price(state)
    current: uint256 = self._threshold(self._load_ramp())
    found: DynArray[Preview, MAX_PREVIEW] = []
    for borrower: address in borrowers:
        pos: Position = self.positions[borrower]
        debt: uint256 = self._debt(pos.debt_shares, index)
        if debt == 0:
            continue
        health_now: uint256 = self._health(pos.collateral, debt, price, current)
        health_new: uint256 = self._health(pos.collateral, debt, price, new_bps)
        if health_new < WAD and health_now >= WAD:
            found.append(Preview(borrower=borrower, health_now=health_now, health_new=health_new))
    return found


@external
@pure
def param_bounds(key: uint256) -> (uint256, uint256):
    """
    @notice (min, max) of a parameter key.
    @dev Anyone may call; reverts for an unknown key.
    @param key The parameter key (P_*).
    @return (least value, greatest value), in the key's unit.
    """
    assert key < NUM_PARAMS, "LendingMarket: unknown parameter"
    return PARAM_MIN[key], PARAM_MAX[key]


# ---------------------------------------------------------------- internal: interest


@internal
@view
def _accrued(state: uint256) -> (uint256, uint256, uint256):
    """
    @dev (I, total borrows, interest) as of now, without storing. The elapsed time is
         charged at the rate of the utilisation and breaker state since the last accrual
         (both only change in transactions, which accrue first).
    """
    index: uint256 = self.borrow_index
    debt_shares: uint256 = self.total_debt_shares
    borrows: uint256 = debt_shares * index // WAD
    elapsed: uint256 = block.timestamp - self.last_accrual
    if elapsed == 0 or debt_shares == 0:
        return index, borrows, 0
    rate: uint256 = self._rate_per_s(borrows, self.cash, state)
    new_index: uint256 = index + index * rate * elapsed // WAD
    new_borrows: uint256 = debt_shares * new_index // WAD
    return new_index, new_borrows, new_borrows - borrows


@internal
def _accrue(state: uint256) -> (uint256, uint256):
    """
    @dev Stores the accrual; returns (I, total borrows).
    """
    index: uint256 = 0
    borrows: uint256 = 0
    interest: uint256 = 0
    index, borrows, interest = self._accrued(state)
    if self.last_accrual != block.timestamp:
        self.last_accrual = block.timestamp
        if index != self.borrow_index:
            self.borrow_index = index
        if interest > 0:
            self.interest_accrued += interest
    return index, borrows


@internal
@view
def _rate_per_s(borrows: uint256, cash: uint256, state: uint256) -> uint256:
    annual: uint256 = interest_rate._annual_rate(
        interest_rate._utilization(borrows, cash),
        self.params[P_BASE_RATE],
        self.params[P_SLOPE_1],
        self.params[P_SLOPE_2],
        self.params[P_KINK_BPS],
    )
    if state != breaker_states.NORMAL:
        annual = annual * self.params[P_HALT_RATE_MULTIPLIER_BPS] // BPS
    return interest_rate._per_second(annual)


@internal
@pure
def _debt(debt_shares: uint256, index: uint256) -> uint256:
    """
    @dev A borrower's debt, rounded up (against the borrower).
    """
    return self._ceil_div(debt_shares * index, WAD)


@internal
@pure
def _repay_shares(debt_shares: uint256, amount: uint256, index: uint256) -> (uint256, uint256):
    """
    @dev (paid, debt shares burned) for a repayment of up to `amount`: all shares when it
         covers the debt, else the shares `amount` is worth, rounded down.
    """
    debt: uint256 = self._ceil_div(debt_shares * index, WAD)
    if amount >= debt:
        return debt, debt_shares
    burned: uint256 = amount * WAD // index
    assert burned > 0, "LendingMarket: repayment too small"
    return amount, burned


# ---------------------------------------------------------------- internal: prices and health


@internal
@view
def _live_price() -> uint256:
    """
    @dev Reverts with the oracle's reason when the reference price is invalid.
    """
    if self.price_kind == PRICE_VENUE:
        price: uint256 = staticcall IVenue(self.price_source).spot_price()
        assert price > 0, "LendingMarket: venue has no price"
        return price
    return staticcall IReferenceOracle(self.price_source).price()


@internal
@view
def _valuation_price(state: uint256) -> uint256:
    if state == breaker_states.NORMAL:
        return self._live_price()
    return self.frozen_price


@internal
@view
def _health(collateral: uint256, debt: uint256, price: uint256, threshold_bps: uint256) -> uint256:
    """
    @dev V * LT / (D * DEBT_SCALE) in WAD; `debt` must be positive.
    """
    return collateral * price // COLLATERAL_UNIT * threshold_bps * WAD // (debt * DEBT_SCALE * BPS)


@internal
@view
def _within_ltv(collateral: uint256, debt: uint256, price: uint256) -> bool:
    return debt * DEBT_SCALE * BPS <= collateral * price // COLLATERAL_UNIT * self.params[P_MAX_LTV_BPS]


@internal
@view
def _threshold(r: Ramp) -> uint256:
    """
    @dev The threshold on its linear ramp from `from_bps` at `start` to `to_bps` at `end`.
    """
    if block.timestamp >= r.end:
        return r.to_bps
    elapsed: uint256 = block.timestamp - r.start
    span: uint256 = r.end - r.start
    if r.to_bps >= r.from_bps:
        return r.from_bps + (r.to_bps - r.from_bps) * elapsed // span
    return r.from_bps - (r.from_bps - r.to_bps) * elapsed // span


# ---------------------------------------------------------------- internal: breaker cache


@internal
@view
def _listed_by(breaker: address, market_id: uint256) -> bool:
    """
    @dev True when `breaker` answers `consumers(market_id)` with a list holding this market;
         false for no breaker, a call that fails, or an answer that is not such a list.
    """
    if breaker == empty(address) or not breaker.is_contract:
        return False
    ok: bool = False
    data: Bytes[CONSUMERS_OUTSIZE] = b""
    ok, data = raw_call(
        breaker,
        abi_encode(market_id, method_id=method_id("consumers(uint256)")),
        max_outsize=CONSUMERS_OUTSIZE,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) < 64:
        return False
    if convert(slice(data, 0, 32), uint256) != 32:
        return False
    count: uint256 = convert(slice(data, 32, 32), uint256)
    if count > MAX_BREAKER_CONSUMERS or len(data) != 64 + 32 * count:
        return False
    for i: uint256 in range(count, bound=MAX_BREAKER_CONSUMERS):
        if convert(slice(data, 64 + 32 * i, 32), uint256) == convert(self, uint256):
            return True
    return False


@internal
@view
def _next_guard(g: Guard, state: uint256) -> Guard:
    """
    @dev Leaving NORMAL records the time; returning opens the grace period.
    """
    new: Guard = Guard(state=state, since=g.since, grace_until=g.grace_until)
    if g.state == breaker_states.NORMAL and state != breaker_states.NORMAL:
        new.since = block.timestamp
    elif g.state != breaker_states.NORMAL and state == breaker_states.NORMAL:
        new.grace_until = block.timestamp + min(block.timestamp - g.since, self.params[P_MAX_GRACE_S])
    return new


@internal
@view
def _load_guard() -> Guard:
    w: uint256 = self._guard
    return Guard(state=w & MASK_8, since=(w >> 8) & MASK_40, grace_until=(w >> 48) & MASK_40)


@internal
def _store_guard(g: Guard):
    self._guard = g.state | (g.since << 8) | (g.grace_until << 48)


@internal
@view
def _load_ramp() -> Ramp:
    w: uint256 = self._ramp
    return Ramp(from_bps=w & MASK_16, to_bps=(w >> 16) & MASK_16, start=(w >> 32) & MASK_40, end=(w >> 72) & MASK_40)


@internal
def _store_ramp(r: Ramp):
    self._ramp = r.from_bps | (r.to_bps << 16) | (r.start << 32) | (r.end << 72)


# ---------------------------------------------------------------- internal: checks and transfers


@internal
def _exit(shares: uint256, assets: uint256, total_assets: uint256, total_shares: uint256):
    assert shares <= self.shares_of[msg.sender], "LendingMarket: not enough shares"
    assert assets <= self.cash, "LendingMarket: not enough idle liquidity"
    self.shares_of[msg.sender] -= shares
    self.total_shares = total_shares - shares
    self.cash -= assets
    self._transfer_out(borrow_token, msg.sender, assets)
    log Withdrawn(
        lender=msg.sender, assets=assets, shares=shares, total_assets=total_assets - assets,
        total_shares=total_shares - shares,
    )


@internal
def _set_price_source(new_kind: uint256, new_source: address):
    assert new_kind == PRICE_ORACLE or new_kind == PRICE_VENUE, "LendingMarket: unknown price source kind"
    assert new_source.is_contract, "LendingMarket: price source is not a contract"
    log PriceSourceSet(
        actor=msg.sender, old_kind=self.price_kind, new_kind=new_kind, old_source=self.price_source,
        new_source=new_source,
    )
    self.price_kind = new_kind
    self.price_source = new_source


@internal
@pure
def _check_bounds(key: uint256, new_value: uint256):
    assert new_value >= PARAM_MIN[key] and new_value <= PARAM_MAX[key], concat(
        "LendingMarket: parameter ", uint2str(key), " out of bounds"
    )


@internal
@pure
def _check_threshold_bounds(threshold_bps: uint256):
    assert threshold_bps >= MIN_LIQUIDATION_THRESHOLD_BPS and threshold_bps <= MAX_LIQUIDATION_THRESHOLD_BPS, "LendingMarket: threshold out of bounds"


@internal
@pure
def _check_consistency(p: uint256[NUM_PARAMS], threshold_low: uint256, threshold_high: uint256):
    """
    @dev Max LTV stays a gap below every threshold the ramp passes through; a liquidation
         at the threshold leaves the position healthier (LT * (1 + bonus) < 1).
    """
    assert p[P_MAX_LTV_BPS] + MIN_LTV_GAP_BPS <= threshold_low, "LendingMarket: max ltv too close to the threshold"
    assert threshold_high * (BPS + p[P_LIQUIDATION_BONUS_BPS]) < BPS * BPS, "LendingMarket: bonus too high for the threshold"


@internal
@pure
def _ceil_div(x: uint256, y: uint256) -> uint256:
    return (x + y - 1) // y


@internal
def _transfer_in(token: address, sender: address, amount: uint256):
    assert extcall IERC20(token).transferFrom(sender, self, amount, default_return_value=True), "LendingMarket: transfer in failed"


@internal
def _transfer_out(token: address, receiver: address, amount: uint256):
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "LendingMarket: transfer out failed"
