# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title BreakerFeed: a Chainlink price feed that holds the breaker's frozen price during a halt
@custom:contract-name BreakerFeed
@license MIT
@notice One market's price source for a lending protocol that reads Chainlink feeds (Aave v3's
        AaveOracle reads `latestAnswer`; most others `latestRoundData`). In NORMAL every read
        passes the underlying feed through unchanged. While the breaker's market is HALTED
        (and, when `frozen_in_grace` is set, in COOLDOWN and AUCTION) it serves the breaker's
        frozen price, scaled to the feed's decimals, in a round that staleness checks accept:

          roundId = answeredInRound = the underlying's latest round id (ids stay monotonic
                                      and `getRoundData` keeps serving the real history)
          answer                    = frozen price * 10**decimals / 10**18 (never <= 0)
          startedAt                 = when the breaker entered its current state
          updatedAt                 = block.timestamp

        `updatedAt = now` says "this is the price to use now", which is what the breaker
        decided: checks of the form `now - updatedAt <= heartbeat`, `updatedAt != 0`,
        `answeredInRound >= roundId` and `answer > 0` all pass for the whole halt, however
        long the heartbeat. The halt is bounded by the breaker (it lapses at `max_halt`),
        so the frozen price cannot outlive it.

        The state is read from the breaker's `state` view, which includes transitions time
        has made but nobody stored, so the feed never needs a `sync` to go live again.
@dev A frozen price is not a safe price by itself. In a protocol that keeps lending while
     the feed is frozen, a real crash lets anyone borrow against collateral valued at the
     pre-crash price and walk away. Pair the feed with a steward that stops new borrowing
     against the asset for the same states (AaveBreakerSteward for Aave v3).
@custom:kill Point the protocol's price source back at the underlying feed.
"""

from snekmate.auth import ownable
from ..interfaces import IAggregatorV3Full
from ..interfaces import ICircuitBreaker
from ..interfaces import IReferenceOracle

implements: IAggregatorV3Full

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership, ownable.renounce_ownership)


# @dev One in basis points.
BPS: constant(uint256) = 10_000
# @dev Most decimals an underlying feed may have (the frozen price has 18).
MAX_DECIMALS: constant(uint8) = 18
# @dev Largest gap at deployment between the underlying's answer and the market's reference
#      price: a wider gap means the feed and the market quote different things.
MAX_UNIT_GAP_BPS: public(constant(uint256)) = 500
# @dev Largest answer served (int256-safe, and far above any price).
MAX_ANSWER: constant(uint256) = 2**128 - 1

# @dev The Chainlink feed passed through in NORMAL.
UNDERLYING: public(immutable(address))
# @dev The circuit breaker whose market state decides what is served.
BREAKER: public(immutable(address))
# @dev The breaker's market id of the asset this feed prices.
MARKET_ID: public(immutable(uint256))
# @dev Decimals of the underlying feed, served unchanged.
DECIMALS: immutable(uint8)
# @dev 10**(18 - DECIMALS): scales the 18-decimal frozen price to the feed's decimals.
FROZEN_SCALE: immutable(uint256)

# @dev When set, the frozen price is also served in COOLDOWN and AUCTION (until NORMAL).
frozen_in_grace: public(bool)


event FrozenInGraceSet:
    actor: indexed(address)
    old: bool
    new: bool


@deploy
def __init__(underlying: address, breaker: address, market_id: uint256, frozen_in_grace: bool):
    """
    @dev The deployer becomes the owner. Reverts when `underlying` or `breaker` is not a contract, the underlying
         has more than 18 decimals, the market is unknown, the underlying's answer is not positive, or it differs
         from the market's reference price by more than MAX_UNIT_GAP_BPS. Logs FrozenInGraceSet.
    @param underlying The Chainlink-compatible feed of the asset (its decimals are kept).
    @param breaker The circuit breaker.
    @param market_id The breaker's market of the asset; its reference must quote the same
           unit as `underlying` (checked within MAX_UNIT_GAP_BPS).
    @param frozen_in_grace Serve the frozen price in COOLDOWN and AUCTION too.
    """
    ownable.__init__()
    assert underlying.is_contract, "BreakerFeed: underlying is not a contract"
    assert breaker.is_contract, "BreakerFeed: breaker is not a contract"
    decimals: uint8 = staticcall IAggregatorV3Full(underlying).decimals()
    assert decimals <= MAX_DECIMALS, "BreakerFeed: underlying decimals above 18"
    oracle: address = (staticcall ICircuitBreaker(breaker).markets(market_id)).oracle
    assert oracle != empty(address), "BreakerFeed: unknown market"
    reference: uint256 = staticcall IReferenceOracle(oracle).price()
    answer: int256 = (staticcall IAggregatorV3Full(underlying).latestRoundData())[1]
    assert answer > 0, "BreakerFeed: underlying answer not positive"
    scaled: uint256 = convert(answer, uint256) * 10 ** convert(MAX_DECIMALS - decimals, uint256)
    gap: uint256 = max(scaled, reference) - min(scaled, reference)
    assert gap * BPS <= reference * MAX_UNIT_GAP_BPS, "BreakerFeed: underlying and market reference disagree"
    UNDERLYING = underlying
    BREAKER = breaker
    MARKET_ID = market_id
    DECIMALS = decimals
    FROZEN_SCALE = 10 ** convert(MAX_DECIMALS - decimals, uint256)
    self.frozen_in_grace = frozen_in_grace
    log FrozenInGraceSet(actor=msg.sender, old=False, new=frozen_in_grace)


@external
def set_frozen_in_grace(frozen_in_grace: bool):
    """
    @notice Whether the frozen price is served in COOLDOWN and AUCTION (it always is in HALTED).
    @dev Only the owner (governance). Serving the live price in the reopening phases lets the
         protocol liquidate at the market price before trading reopens fully; keep it set
         when the protocol's own reopening should wait for NORMAL.
    @param frozen_in_grace The new setting.
    """
    ownable._check_owner()
    log FrozenInGraceSet(actor=msg.sender, old=self.frozen_in_grace, new=frozen_in_grace)
    self.frozen_in_grace = frozen_in_grace


@external
@view
def decimals() -> uint8:
    """
    @notice The underlying feed's decimals.
    @dev Anyone may call.
    @return The decimals, at most 18.
    """
    return DECIMALS


@external
@view
def description() -> String[64]:
    """
    @notice A fixed description (the underlying's is on the underlying).
    @dev Anyone may call.
    @return The description.
    """
    return "BreakerFeed: underlying feed, frozen while halted"


@external
@view
def version() -> uint256:
    """
    @notice The adapter's version.
    @dev Anyone may call.
    @return 1.
    """
    return 1


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The underlying's latest round in NORMAL; the frozen round while halted.
    @dev Anyone may call. The frozen round keeps the underlying's round id, answers the breaker's frozen price
         in the underlying's decimals, starts at the breaker state's `since` and is updated now; it reverts when
         that price rounds to zero or exceeds MAX_ANSWER.
    @return roundId, answer, startedAt, updatedAt, answeredInRound
    """
    return self._latest()


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round as `latestRoundData` serves it; any older round from the
            underlying (history is never rewritten).
    @param round_id The round.
    @dev Anyone may call; reverts as `latestRoundData` or the underlying's `getRoundData` does.
    @return roundId, answer, startedAt, updatedAt, answeredInRound
    """
    latest: (uint80, int256, uint256, uint256, uint80) = self._latest()
    if round_id == latest[0]:
        return latest
    return staticcall IAggregatorV3Full(UNDERLYING).getRoundData(round_id)


@external
@view
def latestAnswer() -> int256:
    """
    @notice The answer of `latestRoundData` (what Aave v3's AaveOracle reads).
    @dev Anyone may call.
    @return The answer, in `decimals()`.
    """
    return self._latest()[1]


@external
@view
def latestTimestamp() -> uint256:
    """
    @notice The `updatedAt` of `latestRoundData`.
    @dev Anyone may call.
    @return The timestamp, seconds.
    """
    return self._latest()[3]


@external
@view
def latestRound() -> uint256:
    """
    @notice The round id of `latestRoundData`.
    @dev Anyone may call.
    @return The round id.
    """
    return convert(self._latest()[0], uint256)


@external
@view
def is_frozen() -> bool:
    """
    @notice True while the frozen price is served.
    @dev Anyone may call: HALTED always, COOLDOWN and AUCTION when `frozen_in_grace` is set.
    @return Whether `latestRoundData` serves the frozen price.
    """
    return self._frozen(staticcall ICircuitBreaker(BREAKER).state(MARKET_ID))


@internal
@view
def _frozen(state: ICircuitBreaker.State) -> bool:
    if state == ICircuitBreaker.State.NORMAL:
        return False
    return state == ICircuitBreaker.State.HALTED or self.frozen_in_grace


@internal
@view
def _latest() -> (uint80, int256, uint256, uint256, uint80):
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in_round = staticcall IAggregatorV3Full(UNDERLYING).latestRoundData()
    if not self._frozen(staticcall ICircuitBreaker(BREAKER).state(MARKET_ID)):
        return round_id, answer, started_at, updated_at, answered_in_round
    frozen: uint256 = staticcall ICircuitBreaker(BREAKER).frozen_price(MARKET_ID) // FROZEN_SCALE
    assert frozen > 0, "BreakerFeed: frozen price rounds to zero"
    assert frozen <= MAX_ANSWER, "BreakerFeed: frozen price out of range"
    since: uint256 = (staticcall ICircuitBreaker(BREAKER).status(MARKET_ID)).since
    return round_id, convert(frozen, int256), since, block.timestamp, round_id
