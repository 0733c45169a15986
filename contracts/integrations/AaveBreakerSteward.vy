# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title AaveBreakerSteward: freezes one Aave v3 reserve while its breaker market is not NORMAL
@custom:contract-name AaveBreakerSteward
@license MIT
@notice A breaker consumer holding Aave's RISK_ADMIN role. When the breaker leaves NORMAL
        it freezes the reserve (`setReserveFreeze(asset, true)`: no new supply or borrow of
        the asset) and sets its LTV to 0 with the liquidation threshold and bonus unchanged
        (`configureReserveAsCollateral`): in Aave v3.0 a frozen collateral still backs new
        borrows of other assets, and LTV 0 is what stops borrowing against its frozen price
        (Aave v3.1 and later do the same inside `setReserveFreeze`). When the breaker is
        back in NORMAL it restores both. Repay, withdraw and liquidation stay open; with a
        BreakerFeed as the asset's price source they see the frozen price.

        It undoes only what it did: a reserve governance had frozen is not unfrozen, an LTV
        governance changed during the halt is not overwritten, and an LTV above the
        liquidation threshold governance set meanwhile is not restored.

        It has no other function: no owner, no setter, no call that reaches any other
        PoolConfigurator function the role allows. Its configuration is immutable.
@dev A configurator call that fails (the role was revoked, the reserve dropped) does not
     revert the breaker's transition, which would stop the breaker for every consumer of
     the market; it is logged (`StewardCallFailed`) for monitoring. Each call gets a fixed
     gas stipend and the steward refuses to run with less gas than that stipend needs, so
     a caller cannot make the calls fail by sending too little gas.
@custom:kill Remove the steward as a consumer (`CircuitBreaker.remove_consumer`) and revoke
        its RISK_ADMIN role (`ACLManager.removeRiskAdmin`).
"""

from ..interfaces import IBreakerConsumer
from ..interfaces import IAaveV3Pool
from ..modules import breaker_states

implements: IBreakerConsumer


# @dev ReserveConfigurationMap fields (Aave v3 ReserveConfiguration.sol).
LTV_MASK: constant(uint256) = 2**16 - 1
THRESHOLD_SHIFT: constant(uint256) = 16
BONUS_SHIFT: constant(uint256) = 32
FROZEN_BIT: constant(uint256) = 57
# @dev Bit layout of `_hold`.
ENGAGED_BIT: constant(uint256) = 1
FROZE_BIT: constant(uint256) = 2
SAVED_SHIFT: constant(uint256) = 16
# @dev Gas given to each configurator call: each takes under 40k on Aave v3.0 (setReserveFreeze 36k,
#      configureReserveAsCollateral 37k cold), a three-fold margin for later versions; kept small because
#      every transition that notifies the steward must carry it (a trip then needs a gas limit of about
#      275k, a sync to NORMAL about 240k: under the keeper's defaults of 400k and 300k).
CALL_GAS: public(constant(uint256)) = 120_000
# @dev Least gas left before a call: the stipend plus what the EIP-150 63/64 rule withholds.
MIN_GAS_LEFT: constant(uint256) = CALL_GAS * 64 // 63 + 10_000

# @dev The circuit breaker allowed to push states.
BREAKER: public(immutable(address))
# @dev The breaker's market id of the reserve's asset.
MARKET_ID: public(immutable(uint256))
# @dev The Aave v3 Pool (read for the reserve configuration).
POOL: public(immutable(address))
# @dev The Aave v3 PoolConfigurator (the only contract the steward calls).
CONFIGURATOR: public(immutable(address))
# @dev The reserve's underlying asset.
ASSET: public(immutable(address))

# @dev Packed in one slot (one write per transition): bit 0 engaged (from a non-NORMAL notification until
#      the next NORMAL one), bit 1 froze (the reserve is frozen by the steward's own call), bits 16-31 the
#      LTV (bps) the steward set to 0 and restores at NORMAL (0 when it changed none).
_hold: uint256


event ReserveRestricted:
    asset: indexed(address)
    actor: indexed(address)
    state: uint256
    froze: bool
    old_ltv: uint256

event ReserveReleased:
    asset: indexed(address)
    actor: indexed(address)
    unfroze: bool
    restored_ltv: uint256

event StewardCallFailed:
    asset: indexed(address)
    actor: indexed(address)
    selector: bytes4


@deploy
def __init__(breaker: address, market_id: uint256, pool: address, configurator: address, asset: address):
    """
    @dev Anyone may deploy; the steward has no owner. Reverts when `breaker`, `pool`, `configurator` or `asset` is
         not a contract. The steward must then be granted the Aave risk or pool admin role and added as a consumer
         of `market_id` in the breaker.
    @param breaker The circuit breaker whose market drives the freeze.
    @param market_id The breaker's market of `asset`.
    @param pool The Aave v3 Pool.
    @param configurator The Aave v3 PoolConfigurator of the same market.
    @param asset The reserve to freeze (listed in `pool`).
    """
    assert breaker.is_contract, "AaveBreakerSteward: breaker is not a contract"
    assert pool.is_contract, "AaveBreakerSteward: pool is not a contract"
    assert configurator.is_contract, "AaveBreakerSteward: configurator is not a contract"
    assert asset.is_contract, "AaveBreakerSteward: asset is not a contract"
    BREAKER = breaker
    MARKET_ID = market_id
    POOL = pool
    CONFIGURATOR = configurator
    ASSET = asset


@external
@nonreentrant
def on_breaker_state(market_id: uint256, state: uint256, frozen_price: uint256):
    """
    @notice Freezes the reserve when the market leaves NORMAL, releases it when it returns.
    @dev Only the breaker, only for MARKET_ID. Repeated notifications of the same side do nothing.
    @param market_id The breaker's market.
    @param state The new state (NORMAL=1, HALTED=2, COOLDOWN=4, AUCTION=8).
    @param frozen_price The breaker's frozen price (unused: the price is the feed's business).
    """
    assert msg.sender == BREAKER, "AaveBreakerSteward: caller is not the breaker"
    assert market_id == MARKET_ID, "AaveBreakerSteward: wrong market"
    hold: uint256 = self._hold
    if state == breaker_states.NORMAL:
        if hold & ENGAGED_BIT != 0:
            self._release(hold)
    elif hold & ENGAGED_BIT == 0:
        self._restrict(state)


@external
@view
def engaged() -> bool:
    """
    @notice True from a non-NORMAL notification until the next NORMAL one.
    @dev Anyone may call.
    @return Whether the steward holds the reserve restricted.
    """
    return self._hold & ENGAGED_BIT != 0


@external
@view
def froze() -> bool:
    """
    @notice True while the reserve is frozen by the steward's own call (it unfreezes only then).
    @dev Anyone may call.
    @return Whether the steward froze the reserve itself.
    """
    return self._hold & FROZE_BIT != 0


@external
@view
def saved_ltv() -> uint256:
    """
    @notice The LTV (bps) the steward set to 0 and restores at NORMAL; 0 when it changed none.
    @dev Anyone may call.
    @return The saved LTV, basis points.
    """
    return self._hold >> SAVED_SHIFT


@internal
def _restrict(state: uint256):
    config: uint256 = staticcall IAaveV3Pool(POOL).getConfiguration(ASSET)
    froze: bool = False
    if (config >> FROZEN_BIT) & 1 == 0:
        froze = self._call(abi_encode(ASSET, True, method_id=method_id("setReserveFreeze(address,bool)")))
    old_ltv: uint256 = config & LTV_MASK
    saved: uint256 = 0
    if old_ltv != 0 and self._set_ltv(config, 0):
        saved = old_ltv
    self._hold = ENGAGED_BIT | (FROZE_BIT if froze else 0) | (saved << SAVED_SHIFT)
    log ReserveRestricted(asset=ASSET, actor=msg.sender, state=state, froze=froze, old_ltv=old_ltv)


@internal
def _release(hold: uint256):
    config: uint256 = staticcall IAaveV3Pool(POOL).getConfiguration(ASSET)
    restored: uint256 = 0
    saved: uint256 = hold >> SAVED_SHIFT
    threshold: uint256 = (config >> THRESHOLD_SHIFT) & LTV_MASK
    if saved != 0 and config & LTV_MASK == 0 and saved <= threshold:
        if self._set_ltv(config, saved):
            restored = saved
    unfroze: bool = False
    if hold & FROZE_BIT != 0 and (config >> FROZEN_BIT) & 1 == 1:
        unfroze = self._call(abi_encode(ASSET, False, method_id=method_id("setReserveFreeze(address,bool)")))
    self._hold = 0
    log ReserveReleased(asset=ASSET, actor=msg.sender, unfroze=unfroze, restored_ltv=restored)


@internal
def _set_ltv(config: uint256, ltv: uint256) -> bool:
    """
    @dev The LTV only: threshold and bonus are passed back as the pool holds them.
    """
    threshold: uint256 = (config >> THRESHOLD_SHIFT) & LTV_MASK
    bonus: uint256 = (config >> BONUS_SHIFT) & LTV_MASK
    return self._call(abi_encode(
        ASSET, ltv, threshold, bonus,
        method_id=method_id("configureReserveAsCollateral(address,uint256,uint256,uint256)"),
    ))


@internal
def _call(data: Bytes[164]) -> bool:
    assert msg.gas >= MIN_GAS_LEFT, "AaveBreakerSteward: not enough gas for the configurator"
    ok: bool = raw_call(CONFIGURATOR, data, gas=CALL_GAS, revert_on_failure=False)
    if not ok:
        log StewardCallFailed(asset=ASSET, actor=msg.sender, selector=convert(slice(data, 0, 4), bytes4))
    return ok
