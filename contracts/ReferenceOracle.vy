# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title Reference oracle: median of Chainlink-compatible feeds
@custom:contract-name ReferenceOracle
@license MIT
@notice The price the breaker compares a venue against, and the price a lending market
        freezes at a trip. Each feed is read with `latestRoundData`, normalised to 18
        decimals, and skipped when its answer is <= 0 or its normalised price would exceed
        `MAX_PRICE` (counted as non-positive: the answer is out of range), its round is incomplete, it is
        older than its own heartbeat, it is dated in the future, or the call fails (a
        reverting feed, malformed data, or a round id that does not fit uint80).
        Below `quorum` valid feeds the price is invalid: `price()` reverts naming why,
        `latest()` returns zero.
        Agreement: a valid feed counts only when it lies within `max_spread_bps` of the median
        of all valid feeds; the price is the median of the feeds that count, and it is
        invalid (fails closed, as below quorum) when fewer than `quorum` of them agree. With
        three or more feeds and a majority quorum, one bad feed is outvoted; with two valid
        feeds it moves the price by at most `max_spread_bps` before the price turns invalid.
@custom:kill Remove every feed (or raise the quorum above the feed count): `price()` then
        reverts for every caller, which halts nothing by itself and fails closed.
"""

from snekmate.auth import ownable
from .interfaces import IAggregatorV3
from .interfaces import IReferenceOracle
from .modules import stats

implements: IReferenceOracle

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership, ownable.renounce_ownership)


# @dev Most feeds one oracle medians over (keeps `price()` cheap and bounded).
MAX_FEEDS: constant(uint256) = 7
# @dev Heartbeat bounds: Chainlink heartbeats run from minutes to a day.
MIN_HEARTBEAT: constant(uint256) = 60
MAX_HEARTBEAT: constant(uint256) = 2 * 86_400
# @dev Feed decimals accepted (Chainlink uses 8 or 18).
MAX_FEED_DECIMALS: constant(uint8) = 36
# @dev Largest normalised price (18 decimals) a feed may report; above it the feed is skipped as out of range.
#      2**128 - 1 is the venue price bound of the breaker, and keeps `answer * 10**18` and the mean of two
#      middle values from overflowing.
MAX_PRICE: public(constant(uint256)) = 2**128 - 1
# @dev Status codes returned by `feed_status`.
FEED_OK: public(constant(uint256)) = 0
# @dev The answer is <= 0, or its normalised price is above `MAX_PRICE`.
FEED_NON_POSITIVE: public(constant(uint256)) = 1
FEED_INCOMPLETE_ROUND: public(constant(uint256)) = 2
FEED_STALE: public(constant(uint256)) = 3
# @dev The call reverted, returned malformed data, or a round id that does not fit uint80.
FEED_CALL_FAILED: public(constant(uint256)) = 4
# @dev Bounds of `max_spread_bps`, the most a counted feed may differ from the median of the valid feeds.
MIN_SPREAD_BPS: public(constant(uint256)) = 10
MAX_SPREAD_BPS: public(constant(uint256)) = 5_000
# @dev `max_spread_bps` at deployment; governance tightens it per market (deployment sets it from the config).
DEFAULT_SPREAD_BPS: public(constant(uint256)) = 1_000
# @dev One in basis points.
BPS: constant(uint256) = 10_000


struct Feed:
    aggregator: address
    heartbeat: uint256
    scale: uint256


# @dev The configured feeds, in the order they were added.
feeds: public(DynArray[Feed, MAX_FEEDS])
# @dev Least number of valid feeds, within `max_spread_bps` of their median, for the price to be valid.
quorum: public(uint256)
# @dev Most a valid feed may differ from the median of the valid feeds and still count, basis points.
max_spread_bps: public(uint256)


event FeedAdded:
    aggregator: indexed(address)
    heartbeat: uint256
    decimals: uint8

event FeedRemoved:
    aggregator: indexed(address)

event HeartbeatSet:
    aggregator: indexed(address)
    old: uint256
    new: uint256

event QuorumSet:
    old: uint256
    new: uint256

event MaxSpreadSet:
    actor: indexed(address)
    old: uint256
    new: uint256


@deploy
def __init__(quorum: uint256):
    """
    @dev The deployer becomes the owner (governance); `max_spread_bps` starts at DEFAULT_SPREAD_BPS. Reverts
         unless 1 <= `quorum` <= MAX_FEEDS. Logs QuorumSet and MaxSpreadSet.
    @param quorum Least number of valid feeds; feeds are added after deployment, so the
           oracle is invalid until `quorum` feeds are configured.
    """
    ownable.__init__()
    assert quorum >= 1 and quorum <= MAX_FEEDS, "ReferenceOracle: quorum out of bounds"
    self.quorum = quorum
    log QuorumSet(old=0, new=quorum)
    self.max_spread_bps = DEFAULT_SPREAD_BPS
    log MaxSpreadSet(actor=msg.sender, old=0, new=DEFAULT_SPREAD_BPS)


@external
def add_feed(aggregator: address, heartbeat: uint256):
    """
    @notice Adds a Chainlink-compatible feed with its own heartbeat (seconds).
    @dev Only the owner (governance). Reverts when `aggregator` is not a contract or is already added, the
         heartbeat is outside [MIN_HEARTBEAT, MAX_HEARTBEAT], MAX_FEEDS are configured, or the feed has more
         than MAX_FEED_DECIMALS decimals. Logs FeedAdded.
    @param aggregator The Chainlink-compatible feed.
    @param heartbeat The feed's heartbeat: an answer older than this is stale, seconds.
    """
    ownable._check_owner()
    assert aggregator.is_contract, "ReferenceOracle: feed is not a contract"
    assert heartbeat >= MIN_HEARTBEAT and heartbeat <= MAX_HEARTBEAT, "ReferenceOracle: heartbeat out of bounds"
    assert len(self.feeds) < MAX_FEEDS, "ReferenceOracle: too many feeds"
    for feed: Feed in self.feeds:
        assert feed.aggregator != aggregator, "ReferenceOracle: feed already added"
    feed_decimals: uint8 = staticcall IAggregatorV3(aggregator).decimals()
    assert feed_decimals <= MAX_FEED_DECIMALS, "ReferenceOracle: feed decimals out of bounds"
    self.feeds.append(Feed(aggregator=aggregator, heartbeat=heartbeat, scale=10 ** convert(feed_decimals, uint256)))
    log FeedAdded(aggregator=aggregator, heartbeat=heartbeat, decimals=feed_decimals)


@external
def remove_feed(aggregator: address):
    """
    @notice Removes a feed (order of the others is kept).
    @dev Only the owner (governance). Reverts when the feed is unknown. Logs FeedRemoved.
    @param aggregator The feed to remove.
    """
    ownable._check_owner()
    kept: DynArray[Feed, MAX_FEEDS] = []
    for feed: Feed in self.feeds:
        if feed.aggregator != aggregator:
            kept.append(feed)
    assert len(kept) < len(self.feeds), "ReferenceOracle: unknown feed"
    self.feeds = kept
    log FeedRemoved(aggregator=aggregator)


@external
def set_heartbeat(aggregator: address, heartbeat: uint256):
    """
    @notice Changes one feed's heartbeat (seconds).
    @dev Only the owner (governance). Reverts when the heartbeat is outside [MIN_HEARTBEAT, MAX_HEARTBEAT] or
         the feed is unknown. Logs HeartbeatSet.
    @param aggregator The configured feed.
    @param heartbeat The new heartbeat, seconds.
    """
    ownable._check_owner()
    assert heartbeat >= MIN_HEARTBEAT and heartbeat <= MAX_HEARTBEAT, "ReferenceOracle: heartbeat out of bounds"
    for i: uint256 in range(MAX_FEEDS):
        if i >= len(self.feeds):
            break
        if self.feeds[i].aggregator == aggregator:
            old: uint256 = self.feeds[i].heartbeat
            self.feeds[i].heartbeat = heartbeat
            log HeartbeatSet(aggregator=aggregator, old=old, new=heartbeat)
            return
    raise "ReferenceOracle: unknown feed"


@external
def set_quorum(quorum: uint256):
    """
    @notice Sets the least number of valid feeds.
    @dev Only the owner (governance). Reverts unless 1 <= `quorum` <= MAX_FEEDS (it may exceed the feeds
         configured: the price is then invalid). Logs QuorumSet.
    @param quorum The new quorum.
    """
    ownable._check_owner()
    assert quorum >= 1 and quorum <= MAX_FEEDS, "ReferenceOracle: quorum out of bounds"
    log QuorumSet(old=self.quorum, new=quorum)
    self.quorum = quorum


@external
def set_max_spread_bps(new_max_spread_bps: uint256):
    """
    @notice Sets the most a valid feed may differ from the median of the valid feeds and
            still count toward the quorum.
    @dev Only the owner (governance). Bounds [MIN_SPREAD_BPS, MAX_SPREAD_BPS].
    @param new_max_spread_bps The new bound, basis points of the median.
    """
    ownable._check_owner()
    assert new_max_spread_bps >= MIN_SPREAD_BPS and new_max_spread_bps <= MAX_SPREAD_BPS, "ReferenceOracle: max spread out of bounds"
    log MaxSpreadSet(actor=msg.sender, old=self.max_spread_bps, new=new_max_spread_bps)
    self.max_spread_bps = new_max_spread_bps


@external
@view
def feed_count() -> uint256:
    """
    @notice Number of configured feeds.
    @dev Anyone may call.
    @return The number of feeds.
    """
    return len(self.feeds)


@external
@view
def feed_status(index: uint256) -> (uint256, uint256):
    """
    @notice One feed as the oracle sees it now.
    @dev Anyone may call; reverts when `index` is not below `feed_count()`.
    @param index The feed's position, in the order feeds were added.
    @return (answer normalised to 18 decimals, status code FEED_*)
    """
    return self._read(self.feeds[index])


@external
@view
def latest() -> (uint256, uint256):
    """
    @notice The median of the feeds that count (valid, and within `max_spread_bps` of the
            median of the valid feeds), or 0 when fewer than `quorum` count.
    @dev Anyone may call; a feed that fails or misbehaves is skipped, not reverted on.
    @return (price with 18 decimals or 0, number of feeds that count)
    """
    valid: DynArray[uint256, stats.MAX_VALUES] = []
    skipped: uint256[5] = empty(uint256[5])
    valid, skipped = self._valid_answers()
    if len(valid) < self.quorum:
        return 0, len(valid)
    agreeing: DynArray[uint256, stats.MAX_VALUES] = self._agreeing(valid)
    if len(agreeing) < self.quorum:
        return 0, len(agreeing)
    return stats._median(agreeing), len(agreeing)


@external
@view
def price() -> uint256:
    """
    @notice The median of the feeds that count, 18 decimals.
    @dev Reverts naming the count of valid feeds and why the others were skipped, or how
         many valid feeds agree with their median when too few do. Anyone may call.
    @return The price, 18 decimals.
    """
    valid: DynArray[uint256, stats.MAX_VALUES] = []
    skipped: uint256[5] = empty(uint256[5])
    valid, skipped = self._valid_answers()
    if len(valid) < self.quorum:
        raise concat(
            "ReferenceOracle: below quorum, ",
            uint2str(len(valid)), " of ", uint2str(self.quorum), " feeds valid (stale ",
            uint2str(skipped[FEED_STALE]), ", non-positive ", uint2str(skipped[FEED_NON_POSITIVE]),
            ", incomplete ", uint2str(skipped[FEED_INCOMPLETE_ROUND]), ", failed ",
            uint2str(skipped[FEED_CALL_FAILED]), ")",
        )
    agreeing: DynArray[uint256, stats.MAX_VALUES] = self._agreeing(valid)
    if len(agreeing) < self.quorum:
        raise concat(
            "ReferenceOracle: below quorum, ", uint2str(len(agreeing)), " of ", uint2str(len(valid)),
            " valid feeds within ", uint2str(self.max_spread_bps), " bps of their median (quorum ",
            uint2str(self.quorum), ")",
        )
    return stats._median(agreeing)


@internal
@view
def _agreeing(valid: DynArray[uint256, stats.MAX_VALUES]) -> DynArray[uint256, stats.MAX_VALUES]:
    """
    @dev The valid answers within `max_spread_bps` of their median (answers <= MAX_PRICE,
         so the products fit).
    """
    centre: uint256 = stats._median(valid)
    spread: uint256 = self.max_spread_bps
    agreeing: DynArray[uint256, stats.MAX_VALUES] = []
    for answer: uint256 in valid:
        diff: uint256 = answer - centre if answer > centre else centre - answer
        if diff * BPS <= spread * centre:
            agreeing.append(answer)
    return agreeing


@internal
@view
def _valid_answers() -> (DynArray[uint256, stats.MAX_VALUES], uint256[5]):
    valid: DynArray[uint256, stats.MAX_VALUES] = []
    skipped: uint256[5] = empty(uint256[5])
    for feed: Feed in self.feeds:
        answer: uint256 = 0
        status: uint256 = 0
        answer, status = self._read(feed)
        if status == FEED_OK:
            valid.append(answer)
        else:
            skipped[status] += 1
    return valid, skipped


@internal
@view
def _read(feed: Feed) -> (uint256, uint256):
    """
    @dev A feed that reverts or returns malformed data is skipped, never fatal: the round ids
         are decoded as uint256 and a feed whose round id does not fit uint80 counts as failed
         (decoding them as uint80 would revert the whole read). An answer whose
         normalised price is above `MAX_PRICE` is skipped with status FEED_NON_POSITIVE (out of range)
         before it is scaled, so scaling cannot overflow.
    """
    ok: bool = False
    data: Bytes[160] = b""
    ok, data = raw_call(
        feed.aggregator,
        method_id("latestRoundData()"),
        max_outsize=160,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 160:
        return 0, FEED_CALL_FAILED
    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint256 = 0
    round_id, answer, started_at, updated_at, answered_in_round = abi_decode(
        data, (uint256, int256, uint256, uint256, uint256)
    )
    if round_id > convert(max_value(uint80), uint256) or answered_in_round > convert(max_value(uint80), uint256):
        return 0, FEED_CALL_FAILED
    if answer <= 0:
        return 0, FEED_NON_POSITIVE
    if convert(answer, uint256) > MAX_PRICE * feed.scale // 10**18:
        return 0, FEED_NON_POSITIVE
    if updated_at == 0 or answered_in_round < round_id:
        return 0, FEED_INCOMPLETE_ROUND
    if updated_at > block.timestamp or block.timestamp - updated_at > feed.heartbeat:
        return 0, FEED_STALE
    return convert(answer, uint256) * 10**18 // feed.scale, FEED_OK
