# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title CircuitBreaker: a per-market halt with on-chain evidence and conditional resume
@custom:contract-name CircuitBreaker
@license MIT
@notice A registry of markets. Each market watches a venue (`IVenue`) against a reference
        oracle and moves through NORMAL -> HALTED -> COOLDOWN -> AUCTION -> NORMAL.

        Glossary (all ratios in basis points, prices and values 18 decimals):
          CVD  cross-venue deviation  |venue spot - reference| / reference
          R_L  depth ratio            venue depth within +-band / median of the depth samples and calm-depth seed
          S_I  slippage impact        (spot - execution price of a sell of notional V) / spot
          V_P  price velocity         (highest observation in the window - spot) / highest
          LCE  liquidation-cluster exposure, computed off-chain and attested by a KEEPER
          N    halt window            max(T_DLP, T_priority) + T_buffer

        Evidence is what previous blocks left: every price and depth the rules read is the
        venue's `settled_*` view (its state at the start of the current block), so nothing
        that exists only inside one transaction (a flash loan, a sandwich around the call)
        counts. Trips: rule A (anyone) CVD and R_L hold at the block start of the arm, and
        the confirmation in a later block shows the deviation held at every block start
        since the arm and over the last P_HOLD_BLOCKS block starts (`IVenue.settled_range`):
        the venue has to stay distorted across that many blocks of arbitrage, which is what
        an attacker who thins the venue by withdrawing its own liquidity pays for. Rule B (KEEPER) V_P and S_I hold on-chain and the keeper
        attests LCE; V_P's high comes from the venue's own block-start history (a guarded
        pool records it on its trades) and from `poke` observations. GUARDIAN any time
        (tighten-only). Rules A and B stop after the daily trip budget; the guardian does not,
        and its trips count in it (the count is also the reopening auction's round id). Resume (anyone): after N, CVD and R_L recovered at the block starts of
        the arm and of the confirmation in a later block.

        R_L's baseline is the median of MAX_DEPTH_SAMPLES values: the depth samples taken
        by `poke` (settled depth, at most one per DEPTH_SAMPLE_INTERVAL) and, for the slots
        not yet sampled, the calm depth governance seeded at registration or at a logged,
        bounded reset (`reset_depth_baseline`). One sample, whatever its value, moves the
        median by at most one rank of the other values. A halt lapses at max_halt. Cool-down and auction then elapse by time; a
        market's reopening auction contract (set by governance) ends the auction phase
        early when it settles (`settle_auction`). Without one, or if it never settles, the
        phase elapses by time as before.
@custom:kill Governance sets a market's CVD trip threshold and daily budget so that rules A
        and B cannot fire and revokes the KEEPER and GUARDIAN roles; `force_resume` ends a halt.
        Consumers then always read NORMAL.
"""

from snekmate.auth import access_control
from .interfaces import ICircuitBreaker
from .interfaces import IVenue
from .interfaces import IReferenceOracle
from .interfaces import IBreakerConsumer
from .modules import stats

implements: ICircuitBreaker

initializes: access_control

exports: (
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
    access_control.DEFAULT_ADMIN_ROLE,
)


# @dev Roles. Governance is snekmate's DEFAULT_ADMIN_ROLE: it administers every role.
GOVERNANCE_ROLE: public(constant(bytes32)) = empty(bytes32)
GUARDIAN_ROLE: public(constant(bytes32)) = keccak256("GUARDIAN_ROLE")
KEEPER_ROLE: public(constant(bytes32)) = keccak256("KEEPER_ROLE")

# @dev Reason codes carried by every transition event.
REASON_RULE_A: public(constant(uint256)) = 1  # CVD + depth, armed and confirmed
REASON_RULE_B: public(constant(uint256)) = 2  # velocity + slippage + attested LCE
REASON_GUARDIAN: public(constant(uint256)) = 3  # emergency trip or extension
REASON_RECOVERED: public(constant(uint256)) = 4  # CVD and depth recovered after N
REASON_LAPSED: public(constant(uint256)) = 5  # max halt reached
REASON_FORCED: public(constant(uint256)) = 6  # governance forced resume
REASON_COOLDOWN_ELAPSED: public(constant(uint256)) = 7  # cool-down over, auction opens
REASON_AUCTION_ELAPSED: public(constant(uint256)) = 8  # auction over, trading reopens
REASON_LCE_CRITICAL: public(constant(uint256)) = 9  # keeper extension
REASON_AUCTION_SETTLED: public(constant(uint256)) = 10  # the market's reopening auction settled

# @dev One in basis points.
BPS: constant(uint256) = 10_000
# @dev One UTC day: the trip budget window.
DAY: constant(uint256) = 86_400
# @dev Least time between two depth samples (four a day).
DEPTH_SAMPLE_INTERVAL: public(constant(uint256)) = 21_600
# @dev A calm-depth seed (registration or reset) lies within this factor of the settled depth.
MAX_CALM_DEPTH_FACTOR: public(constant(uint256)) = 10
# @dev Most consumers notified per market (bounds the gas of a transition).
MAX_CONSUMERS: constant(uint256) = 8
# @dev Values the R_L baseline is the median of: depth samples, the calm-depth seed for the rest.
MAX_DEPTH_SAMPLES: public(constant(uint256)) = 30
# @dev Seconds per block (Ethereum), to turn the V_P window into the blocks a venue's
#      block-start history is asked for.
SECONDS_PER_BLOCK: public(constant(uint256)) = 12
# @dev Price observations kept for V_P; spacing is vp_window / OBS_PER_WINDOW.
MAX_OBSERVATIONS: constant(uint256) = 32
OBS_PER_WINDOW: constant(uint256) = 24
# @dev Bit masks for the packed status and sampling words.
MASK_8: constant(uint256) = 2**8 - 1
MASK_32: constant(uint256) = 2**32 - 1
MASK_40: constant(uint256) = 2**40 - 1
MASK_48: constant(uint256) = 2**48 - 1
MASK_128: constant(uint256) = 2**128 - 1
# @dev The observation half of the packed sampling word (head 8 bits, count 8, last time 40).
LOW_56_BITS: constant(uint256) = 2**56 - 1
# @dev Bounds of the derived halt window N (the seed recommends 5-10 minutes).
MIN_HALT_WINDOW: public(constant(uint256)) = 60
MAX_HALT_WINDOW: public(constant(uint256)) = 3_600

# @dev Parameter keys: index into a market's parameter array. Bounds sit next to each key.
NUM_PARAMS: public(constant(uint256)) = 19
P_CVD_TRIP_BPS: public(constant(uint256)) = 0  # default 300, bounds [50, 5000]
P_CVD_RESUME_BPS: public(constant(uint256)) = 1  # default 100, bounds [10, 5000], < CVD trip
P_RL_TRIP_BPS: public(constant(uint256)) = 2  # default 2000, bounds [100, 9000]
P_RL_RESUME_BPS: public(constant(uint256)) = 3  # default 5000, bounds [100, 10000], > R_L trip
P_SI_TRIP_BPS: public(constant(uint256)) = 4  # default 500, bounds [10, 5000]
P_SI_NOTIONAL: public(constant(uint256)) = 5  # default 1e6 quote (1e24), bounds [1e18, 1e30]
P_VP_TRIP_BPS: public(constant(uint256)) = 6  # default 1000, bounds [100, 5000]
P_VP_WINDOW_S: public(constant(uint256)) = 7  # default 300, bounds [60, 3600]
P_LCE_CRITICAL_BPS: public(constant(uint256)) = 8  # default 10000, bounds [100, 1000000]
P_DEPTH_BAND_BPS: public(constant(uint256)) = 9  # default 100, bounds [10, 1000]
P_T_DLP_S: public(constant(uint256)) = 10  # default 300, bounds [0, 3600]
P_T_PRIORITY_S: public(constant(uint256)) = 11  # default 12, bounds [0, 600]
P_T_BUFFER_S: public(constant(uint256)) = 12  # default 60, bounds [0, 1800]
P_ARM_TTL_S: public(constant(uint256)) = 13  # default 120, bounds [12, 900]
P_COOLDOWN_S: public(constant(uint256)) = 14  # default 180, bounds [30, 1800]
P_AUCTION_S: public(constant(uint256)) = 15  # default 180, bounds [30, 1800]
P_MAX_HALT_S: public(constant(uint256)) = 16  # default 14400, bounds [900, 86400]
P_DAILY_TRIP_BUDGET: public(constant(uint256)) = 17  # default 3, bounds [1, 24]
P_HOLD_BLOCKS: public(constant(uint256)) = 18  # default 10, bounds [2, 30] (below the pool's 32 block starts)

PARAM_MIN: constant(uint256[NUM_PARAMS]) = [
    50, 10, 100, 100, 10, 10**18, 100, 60, 100, 10, 0, 0, 0, 12, 30, 30, 900, 1, 2
]
PARAM_MAX: constant(uint256[NUM_PARAMS]) = [
    5_000, 5_000, 9_000, 10_000, 5_000, 10**30, 5_000, 3_600, 1_000_000, 1_000, 3_600, 600, 1_800, 900,
    1_800, 1_800, 86_400, 24, 30
]


# @dev Number of registered markets; market ids are 0 .. market_count - 1.
market_count: public(uint256)
# @dev Venue and reference oracle of each market.
markets: public(HashMap[uint256, ICircuitBreaker.Market])
# @dev Thresholds and durations of each market, indexed by the P_* keys.
params: public(HashMap[uint256, uint256[NUM_PARAMS]])
# @dev Packed `ICircuitBreaker.Status` word of each market (state, timestamps, trip budget, arm).
_status: HashMap[uint256, uint256]
# @dev Last valid reference price the breaker read: at registration, at an arm in NORMAL, at a
#      trip. Pushed to consumers at every transition; from a trip until NORMAL it stays the
#      trip's (the price consumers froze at).
frozen_price: public(HashMap[uint256, uint256])
# @dev Contracts told about every stored transition.
_consumers: HashMap[uint256, DynArray[address, MAX_CONSUMERS]]
# @dev Packed sampling bookkeeping: next/count/last time of observations and depth samples.
_sampling: HashMap[uint256, uint256]
# @dev Ring of packed price observations (price in the low 128 bits, timestamp above).
_observations: HashMap[uint256, uint256[MAX_OBSERVATIONS]]
# @dev Ring of depth samples (settled depth, at most one per DEPTH_SAMPLE_INTERVAL).
_depth_samples: HashMap[uint256, uint256[MAX_DEPTH_SAMPLES]]
# @dev Median of the depth samples and calm-depth seeds, recomputed when either changes.
depth_baseline: public(HashMap[uint256, uint256])
# @dev Governance's calm depth of each market: fills the baseline slots no sample has reached.
calm_depth: public(HashMap[uint256, uint256])
# @dev The reopening auction allowed to end each market's AUCTION phase; empty: time only.
auction_of: public(HashMap[uint256, address])


@deploy
def __init__():
    """
    @notice The deployer holds the governance role until it hands it on (the deploy script
            grants the configured governance and renounces).
    """
    access_control.__init__()


# ---------------------------------------------------------------- governance


@external
@nonreentrant
def register_market(
    venue: address, oracle: address, market_params: uint256[NUM_PARAMS], calm_depth: uint256 = 0
) -> uint256:
    """
    @notice Registers a market. Its R_L baseline starts at `calm_depth`, governance's calm
            depth of the venue (0: the venue's settled depth now), in every baseline slot.
    @dev Only governance. A nonzero `calm_depth` lies within MAX_CALM_DEPTH_FACTOR of the
         venue's settled depth.
    @param venue The venue the market watches (`IVenue`).
    @param oracle The reference oracle (`IReferenceOracle`).
    @param market_params The parameters, indexed by the P_* keys, each within its bounds.
    @param calm_depth The calm depth within the depth band, 18 decimals; 0 for the settled depth.
    @return The new market id.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    assert venue.is_contract, "CircuitBreaker: venue is not a contract"
    assert oracle.is_contract, "CircuitBreaker: oracle is not a contract"
    for key: uint256 in range(NUM_PARAMS):
        self._check_bounds(key, market_params[key])
    self._check_consistency(market_params)

    market_id: uint256 = self.market_count
    self.market_count = market_id + 1
    self.markets[market_id] = ICircuitBreaker.Market(venue=venue, oracle=oracle)
    self.params[market_id] = market_params
    self._store(market_id, ICircuitBreaker.Status(
        state=ICircuitBreaker.State.NORMAL, since=block.timestamp, resume_after=0, lapse_at=0,
        trip_day=0, trips_today=0, armed_block=0, armed_at=0,
    ))
    log ICircuitBreaker.MarketRegistered(market_id=market_id, venue=venue, oracle=oracle, actor=msg.sender)
    for key: uint256 in range(NUM_PARAMS):
        log ICircuitBreaker.ParameterSet(market_id=market_id, key=key, old=0, new=market_params[key], actor=msg.sender)

    # Pre-warm the observation ring (timestamp 0 marks an empty slot), so that every poke
    # is a cheap nonzero-to-nonzero write instead of a first write to a fresh slot.
    for i: uint256 in range(MAX_OBSERVATIONS):
        self._observations[market_id][i] = 1
    depth: uint256 = staticcall IVenue(venue).settled_depth(market_params[P_DEPTH_BAND_BPS])
    assert depth > 0, "CircuitBreaker: venue has no depth"
    seed: uint256 = depth
    if calm_depth != 0:
        self._check_calm_depth(calm_depth, depth)
        seed = calm_depth
    self.calm_depth[market_id] = seed
    self.depth_baseline[market_id] = seed
    # The depth clock starts now: the first sample comes one interval after registration.
    sampling: uint256 = block.timestamp << 72
    spot: uint256 = staticcall IVenue(venue).settled_spot_price()
    assert spot > 0, "CircuitBreaker: venue has no price"
    self._record_observation(market_id, spot, sampling)
    # Until the first trip, the frozen price is the reference price at registration.
    reference: uint256 = 0
    valid_feeds: uint256 = 0
    reference, valid_feeds = staticcall IReferenceOracle(oracle).latest()
    self.frozen_price[market_id] = reference
    return market_id


@external
@nonreentrant
def set_param(market_id: uint256, key: uint256, new_value: uint256):
    """
    @notice Sets one parameter of a market within its bounds.
    @dev Only governance. Changes apply to future checks; a running halt keeps its deadlines.
         Reverts for an unknown market or key, a value outside the key's bounds (`param_bounds`),
         or a set that breaks consistency (CVD resume < CVD trip, R_L resume > R_L trip, the halt
         window N within bounds and below the max halt). Logs ParameterSet.
    @param market_id The market.
    @param key The parameter key (P_*).
    @param new_value The new value, in the key's unit.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    self._check_market(market_id)
    assert key < NUM_PARAMS, "CircuitBreaker: unknown parameter"
    self._check_bounds(key, new_value)
    updated: uint256[NUM_PARAMS] = self.params[market_id]
    old_value: uint256 = updated[key]
    updated[key] = new_value
    self._check_consistency(updated)
    self.params[market_id] = updated
    log ICircuitBreaker.ParameterSet(market_id=market_id, key=key, old=old_value, new=new_value, actor=msg.sender)


@external
@nonreentrant
def add_consumer(market_id: uint256, consumer: address):
    """
    @notice Adds a contract to notify on every stored transition of the market.
    @dev Only governance. The consumer is told the current state at once. Reverts for an unknown
         market, a consumer that is not a contract or already added, or MAX_CONSUMERS reached.
         Logs ConsumerAdded.
    @param market_id The market.
    @param consumer The contract implementing IBreakerConsumer.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    self._check_market(market_id)
    assert consumer.is_contract, "CircuitBreaker: consumer is not a contract"
    assert consumer not in self._consumers[market_id], "CircuitBreaker: consumer already added"
    assert len(self._consumers[market_id]) < MAX_CONSUMERS, "CircuitBreaker: too many consumers"
    self._consumers[market_id].append(consumer)
    log ICircuitBreaker.ConsumerAdded(market_id=market_id, consumer=consumer, actor=msg.sender)
    s: ICircuitBreaker.Status = self._load(market_id)
    extcall IBreakerConsumer(consumer).on_breaker_state(
        market_id, convert(s.state, uint256), self.frozen_price[market_id]
    )


@external
@nonreentrant
def remove_consumer(market_id: uint256, consumer: address):
    """
    @notice Stops notifying a consumer.
    @dev Only governance. Reverts when `consumer` is not a consumer of the market. Logs
         ConsumerRemoved.
    @param market_id The market.
    @param consumer The consumer to remove.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    kept: DynArray[address, MAX_CONSUMERS] = []
    for c: address in self._consumers[market_id]:
        if c != consumer:
            kept.append(c)
    assert len(kept) < len(self._consumers[market_id]), "CircuitBreaker: unknown consumer"
    self._consumers[market_id] = kept
    log ICircuitBreaker.ConsumerRemoved(market_id=market_id, consumer=consumer, actor=msg.sender)


@external
@nonreentrant
def force_resume(market_id: uint256):
    """
    @notice Ends a halt now (HALTED -> COOLDOWN), whatever the indicators say.
    @dev Only governance. Stores the transitions time has made first; reverts for an unknown
         market or one that is then not HALTED. Consumers are notified.
    @param market_id The market.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.HALTED, "CircuitBreaker: market is not halted"
    self._resume(market_id, s, REASON_FORCED, 0, 0)


@external
@nonreentrant
def reset_depth_baseline(market_id: uint256, calm_depth: uint256):
    """
    @notice Restarts a market's R_L baseline from a new calm depth: the depth samples are
            dropped and every baseline slot holds `calm_depth` until new samples arrive.
    @dev Only governance. Bounded: `calm_depth` lies within MAX_CALM_DEPTH_FACTOR of the
         venue's settled depth. Logged with the old and new baseline.
    @param market_id The market.
    @param calm_depth The new calm depth within the depth band, 18 decimals.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    self._check_market(market_id)
    settled: uint256 = staticcall IVenue(self.markets[market_id].venue).settled_depth(
        self.params[market_id][P_DEPTH_BAND_BPS]
    )
    self._check_calm_depth(calm_depth, settled)
    old_baseline: uint256 = self.depth_baseline[market_id]
    self.calm_depth[market_id] = calm_depth
    self.depth_baseline[market_id] = calm_depth
    sampling: uint256 = self._sampling[market_id]
    # count 0 and head 0; the last sample time is now, so the next sample is one interval away
    self._sampling[market_id] = (block.timestamp << 72) | (sampling & LOW_56_BITS)
    log ICircuitBreaker.DepthBaselineReset(
        market_id=market_id, actor=msg.sender, old_baseline=old_baseline, new_baseline=calm_depth,
        settled_depth=settled,
    )


@external
@nonreentrant
def set_auction(market_id: uint256, auction: address):
    """
    @notice Names the reopening auction contract that may end the market's AUCTION phase
            by settling; empty removes it (the phase then elapses by time only).
    @dev Only governance. Reverts for an unknown market or an `auction` that is neither empty
         nor a contract. Logs AuctionSet.
    @param market_id The market.
    @param auction The ReopeningAuction, or the zero address.
    """
    access_control._check_role(GOVERNANCE_ROLE, msg.sender)
    self._check_market(market_id)
    assert auction == empty(address) or auction.is_contract, "CircuitBreaker: auction is not a contract"
    log ICircuitBreaker.AuctionSet(market_id=market_id, old=self.auction_of[market_id], new=auction, actor=msg.sender)
    self.auction_of[market_id] = auction


@external
@nonreentrant
def settle_auction(market_id: uint256):
    """
    @notice AUCTION -> NORMAL now: the market's reopening auction has cleared and traded
            the venue to its clearing price.
    @dev Only the market's auction contract, only in AUCTION (time-made transitions are
         stored first). Consumers are notified like any transition. Logs StateAdvanced.
    @param market_id The market.
    """
    self._check_market(market_id)
    auction: address = self.auction_of[market_id]
    assert auction != empty(address) and msg.sender == auction, "CircuitBreaker: caller is not the market's auction"
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.AUCTION, "CircuitBreaker: market is not in auction"
    new: ICircuitBreaker.Status = s
    new.state = ICircuitBreaker.State.NORMAL
    new.since = block.timestamp
    self._store(market_id, new)
    log ICircuitBreaker.StateAdvanced(
        market_id=market_id, actor=msg.sender, reason=REASON_AUCTION_SETTLED, old_state=ICircuitBreaker.State.AUCTION,
        new_state=ICircuitBreaker.State.NORMAL,
    )
    self._notify(market_id, ICircuitBreaker.State.NORMAL, self.frozen_price[market_id])


# ---------------------------------------------------------------- observations


@external
@nonreentrant
def poke(market_id: uint256) -> bool:
    """
    @notice Records a price observation (at most one per vp_window / 24 seconds) and a
            depth sample (at most one per DEPTH_SAMPLE_INTERVAL), both as the previous block
            left the venue (`settled_*`), and stores any transition that time has made.
            Permissionless. A market whose venue keeps its own block-start history (a
            guarded pool) needs no observation pokes for V_P; depth samples refine the
            calm-depth seed.
    @param market_id The market.
    @return True when something was recorded.
    """
    self._check_market(market_id)
    self._sync(market_id)
    venue: address = self.markets[market_id].venue
    sampling: uint256 = self._sampling[market_id]
    recorded: bool = False
    spacing: uint256 = self.params[market_id][P_VP_WINDOW_S] // OBS_PER_WINDOW
    if block.timestamp >= self._obs_last(sampling) + spacing:
        sampling = self._record_observation(market_id, staticcall IVenue(venue).settled_spot_price(), sampling)
        recorded = True
    if block.timestamp >= self._depth_last(sampling) + DEPTH_SAMPLE_INTERVAL:
        depth: uint256 = staticcall IVenue(venue).settled_depth(self.params[market_id][P_DEPTH_BAND_BPS])
        sampling = self._add_depth_sample(market_id, depth, sampling)
        recorded = True
    return recorded


# ---------------------------------------------------------------- trips


@external
@nonreentrant
def arm_trip(market_id: uint256):
    """
    @notice Rule A, first block: records that CVD and R_L hold at this block's start.
            Permissionless.
    @dev An unexpired arm is kept, so nobody can push the confirmation block forward.
    @param market_id The market.
    """
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state != ICircuitBreaker.State.HALTED, "CircuitBreaker: market is halted"
    self._check_venue_open(market_id, s.state)
    self._check_budget(market_id, s)
    assert not self._arm_live(market_id, s), "CircuitBreaker: already armed"
    cvd: uint256 = 0
    rl: uint256 = 0
    cvd, rl = self._check_rule_a(market_id)
    s.armed_block = block.number
    s.armed_at = block.timestamp
    self._store(market_id, s)
    log ICircuitBreaker.TripArmed(
        market_id=market_id, actor=msg.sender, cvd_bps=cvd, rl_bps=rl,
        expires_at=block.timestamp + self.params[market_id][P_ARM_TTL_S],
    )


@external
@nonreentrant
def trip(market_id: uint256):
    """
    @notice Rule A, confirmation: trips when the arm is from an earlier block, unexpired,
            the deviation held at every block start since the arm and at the starts of the
            last P_HOLD_BLOCKS blocks (the venue's settled range stays on one side of the
            reference, beyond the CVD threshold) and R_L holds at this block's start.
            Permissionless.
    @dev A venue that cannot show those block starts (`complete` false) is confirmable
         only in the block right after the arm, whose start is the only one.
    @param market_id The market.
    """
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state != ICircuitBreaker.State.HALTED, "CircuitBreaker: market is halted"
    self._check_venue_open(market_id, s.state)
    self._check_budget(market_id, s)
    self._check_confirmable(market_id, s)
    cvd: uint256 = 0
    rl: uint256 = 0
    reference: uint256 = 0
    cvd, rl, reference = self._check_rule_a_held(market_id, s)
    self._trip(market_id, s, REASON_RULE_A, cvd, rl, 0, 0, 0, reference)


@external
@nonreentrant
def trip_attested(market_id: uint256, lce_bps: uint256):
    """
    @notice Rule B: a KEEPER trips when V_P and S_I hold on-chain and it attests that the
            liquidation-cluster exposure is at or above the critical level.
    @dev V_P is read from block starts only (see `_vp_bps`). S_I is the venue's slippage
         now: the keeper is trusted to attest LCE, and S_I is a second condition, not the
         evidence a permissionless caller could fake.
    @param market_id The market.
    @param lce_bps The attested liquidation-cluster exposure, bps.
    """
    access_control._check_role(KEEPER_ROLE, msg.sender)
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state != ICircuitBreaker.State.HALTED, "CircuitBreaker: market is halted"
    self._check_venue_open(market_id, s.state)
    self._check_budget(market_id, s)
    assert lce_bps >= self.params[market_id][P_LCE_CRITICAL_BPS], "CircuitBreaker: attested LCE below critical"
    venue: address = self.markets[market_id].venue
    spot: uint256 = staticcall IVenue(venue).settled_spot_price()
    vp: uint256 = self._vp_bps(market_id, spot, self.params[market_id][P_VP_WINDOW_S])
    assert vp > self.params[market_id][P_VP_TRIP_BPS], "CircuitBreaker: price velocity below trip threshold"
    si: uint256 = self._si_bps(venue, self.params[market_id][P_SI_NOTIONAL])
    assert si > self.params[market_id][P_SI_TRIP_BPS], "CircuitBreaker: slippage impact below trip threshold"
    self._trip(market_id, s, REASON_RULE_B, 0, 0, si, vp, lce_bps, 0)


@external
@nonreentrant
def guardian_trip(market_id: uint256):
    """
    @notice Emergency trip by the GUARDIAN, outside the daily budget: it needs none left.
            It is counted in `trips_today` like any trip (the count is the halt's round id for
            the reopening auction), so a precautionary guardian trip uses one of rules A and
            B's trips of the day. Tighten-only: it can halt, never resume.
    @param market_id The market.
    """
    access_control._check_role(GUARDIAN_ROLE, msg.sender)
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state != ICircuitBreaker.State.HALTED, "CircuitBreaker: market is halted"
    self._trip(market_id, s, REASON_GUARDIAN, 0, 0, 0, 0, 0, 0)


# ---------------------------------------------------------------- extensions


@external
@nonreentrant
def extend_halt(market_id: uint256, lce_bps: uint256):
    """
    @notice A KEEPER attesting critical LCE pushes the earliest resume to now + N, never
            past the halt's lapse time.
    @dev Only KEEPER_ROLE, only while HALTED (time-made transitions are stored first), and
         only with `lce_bps` at or above the market's P_LCE_CRITICAL_BPS. Clears a pending
         resume arm. Logs HaltExtended.
    @param market_id The market.
    @param lce_bps The attested liquidation-cluster exposure, bps.
    """
    access_control._check_role(KEEPER_ROLE, msg.sender)
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.HALTED, "CircuitBreaker: market is not halted"
    assert lce_bps >= self.params[market_id][P_LCE_CRITICAL_BPS], "CircuitBreaker: attested LCE below critical"
    self._extend(market_id, s, block.timestamp + self._halt_window_of(market_id), REASON_LCE_CRITICAL, lce_bps)


@external
@nonreentrant
def guardian_extend(market_id: uint256, duration: uint256):
    """
    @notice The GUARDIAN pushes the earliest resume to now + duration, never past the halt's
            lapse time (max halt stays a hard bound without governance).
    @dev Only GUARDIAN_ROLE, only while HALTED, with 0 < `duration` <= P_MAX_HALT_S. Clears a
         pending resume arm. Logs HaltExtended.
    @param market_id The market.
    @param duration Seconds from now.
    """
    access_control._check_role(GUARDIAN_ROLE, msg.sender)
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.HALTED, "CircuitBreaker: market is not halted"
    assert duration > 0 and duration <= self.params[market_id][P_MAX_HALT_S], "CircuitBreaker: duration out of bounds"
    self._extend(market_id, s, block.timestamp + duration, REASON_GUARDIAN, 0)


# ---------------------------------------------------------------- resume


@external
@nonreentrant
def arm_resume(market_id: uint256):
    """
    @notice Resume, first block: after the halt window, records that CVD and R_L have
            recovered. Permissionless.
    @dev Reverts unless the market is HALTED, the halt window is over and no live arm exists,
         and unless CVD is below P_CVD_RESUME_BPS (not checked for a venue the halt closes) and
         R_L above P_RL_RESUME_BPS at this block's start. Logs ResumeArmed.
    @param market_id The market.
    """
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.HALTED, "CircuitBreaker: market is not halted"
    assert block.timestamp >= s.resume_after, "CircuitBreaker: halt window not over"
    assert not self._arm_live(market_id, s), "CircuitBreaker: already armed"
    cvd: uint256 = 0
    rl: uint256 = 0
    cvd, rl = self._check_recovery(market_id)
    s.armed_block = block.number
    s.armed_at = block.timestamp
    self._store(market_id, s)
    log ICircuitBreaker.ResumeArmed(
        market_id=market_id, actor=msg.sender, cvd_bps=cvd, rl_bps=rl,
        expires_at=block.timestamp + self.params[market_id][P_ARM_TTL_S],
    )


@external
@nonreentrant
def resume(market_id: uint256):
    """
    @notice Resume, confirmation: HALTED -> COOLDOWN when the arm is from an earlier block,
            unexpired, the halt window is over and recovery still holds. Permissionless.
    @dev Reverts naming the failed condition (not halted, window not over, not armed, same
         block as the arm, arm expired, deviation or depth not recovered). Consumers are
         notified.
    @param market_id The market.
    """
    s: ICircuitBreaker.Status = self._sync(market_id)
    assert s.state == ICircuitBreaker.State.HALTED, "CircuitBreaker: market is not halted"
    assert block.timestamp >= s.resume_after, "CircuitBreaker: halt window not over"
    self._check_confirmable(market_id, s)
    cvd: uint256 = 0
    rl: uint256 = 0
    cvd, rl = self._check_recovery(market_id)
    self._resume(market_id, s, REASON_RECOVERED, cvd, rl)


@external
@nonreentrant
def sync(market_id: uint256) -> ICircuitBreaker.State:
    """
    @notice Stores the transitions that time has made (lapse, end of cool-down, end of
            auction) and notifies consumers. Permissionless.
    @dev Reverts for an unknown market.
    @param market_id The market.
    @return The state now.
    """
    return self._sync(market_id).state


# ---------------------------------------------------------------- views


@external
@view
def state(market_id: uint256) -> ICircuitBreaker.State:
    """
    @notice The market's state now, including transitions time has made but nobody stored.
    @dev Anyone may call; reverts for an unknown market.
    @param market_id The market.
    @return The state now.
    """
    self._check_market(market_id)
    s: ICircuitBreaker.Status = self._load(market_id)
    reason: uint256 = 0
    for _: uint256 in range(3):
        s, reason = self._advance(market_id, s)
        if reason == 0:
            break
    return s.state


@external
@view
def status(market_id: uint256) -> ICircuitBreaker.Status:
    """
    @notice The stored status word, unpacked (`state` is as stored; see `state()` for now).
    @dev Anyone may call; reverts for an unknown market.
    @param market_id The market.
    @return The stored status.
    """
    self._check_market(market_id)
    return self._load(market_id)


@external
@view
def indicators(market_id: uint256) -> ICircuitBreaker.Indicators:
    """
    @notice The on-chain indicators now, as the rules read them: spot, CVD, R_L and V_P at
            this block's start, S_I now. With an invalid reference, `reference_valid` is
            False and CVD reads 0.
    @dev Anyone may call; reverts for an unknown market, and as the venue's settled views do.
    @param market_id The market.
    @return The indicators, ratios in basis points, prices 18 decimals.
    """
    self._check_market(market_id)
    m: ICircuitBreaker.Market = self.markets[market_id]
    spot: uint256 = staticcall IVenue(m.venue).settled_spot_price()
    reference: uint256 = 0
    valid_feeds: uint256 = 0
    reference, valid_feeds = staticcall IReferenceOracle(m.oracle).latest()
    depth: uint256 = staticcall IVenue(m.venue).settled_depth(self.params[market_id][P_DEPTH_BAND_BPS])
    return ICircuitBreaker.Indicators(
        spot=spot,
        reference=reference,
        reference_valid=reference > 0,
        cvd_bps=stats._deviation_bps(spot, reference) if reference > 0 else 0,
        rl_bps=stats._ratio_bps(depth, self.depth_baseline[market_id]),
        si_bps=self._si_bps(m.venue, self.params[market_id][P_SI_NOTIONAL]),
        vp_bps=self._vp_bps(market_id, spot, self.params[market_id][P_VP_WINDOW_S]),
    )


@external
@view
def halt_window(market_id: uint256) -> uint256:
    """
    @notice N = max(T_DLP, T_priority) + T_buffer, in seconds.
    @dev Anyone may call; reverts for an unknown market.
    @param market_id The market.
    @return The halt window N, seconds.
    """
    self._check_market(market_id)
    return self._halt_window_of(market_id)


@external
@view
def consumers(market_id: uint256) -> DynArray[address, MAX_CONSUMERS]:
    """
    @notice The contracts notified on every stored transition of the market.
    @dev Anyone may call; empty for an unknown market.
    @param market_id The market.
    @return The consumers, in the order they were added (a removal keeps the order).
    """
    return self._consumers[market_id]


@external
@view
def venue_halts_with_market(market_id: uint256) -> bool:
    """
    @notice True when the market's venue is one of its consumers (a guarded pool): the halt
            closes it, so its resume is judged on depth and a valid reference, not on its price.
    @dev Anyone may call.
    @param market_id The market.
    @return Whether the venue is a consumer of the market.
    """
    return self._venue_halts_with_market(market_id)


@external
@pure
def param_bounds(key: uint256) -> (uint256, uint256):
    """
    @notice (min, max) of a parameter key.
    @dev Anyone may call; reverts for an unknown key.
    @param key The parameter key (P_*).
    @return (least value, greatest value), in the key's unit.
    """
    assert key < NUM_PARAMS, "CircuitBreaker: unknown parameter"
    return PARAM_MIN[key], PARAM_MAX[key]


# ---------------------------------------------------------------- internal: rules


@internal
def _check_rule_a(market_id: uint256) -> (uint256, uint256):
    cvd: uint256 = 0
    rl: uint256 = 0
    reference: uint256 = 0
    cvd, rl, reference = self._cvd_rl(market_id)
    assert cvd > self.params[market_id][P_CVD_TRIP_BPS], "CircuitBreaker: deviation below trip threshold"
    assert rl < self.params[market_id][P_RL_TRIP_BPS], "CircuitBreaker: depth above trip threshold"
    if self._load(market_id).state == ICircuitBreaker.State.NORMAL:
        self.frozen_price[market_id] = reference
    return cvd, rl


@internal
@view
def _check_rule_a_held(market_id: uint256, s: ICircuitBreaker.Status) -> (uint256, uint256, uint256):
    """
    @dev The confirmation: CVD over every block start since the arm, and over the starts of
         the last P_HOLD_BLOCKS blocks (this one included) when the arm is more recent, is the
         distance from the reference to the nearest end of the venue's settled range, 0 when
         the range reaches the reference (the deviation did not hold, or changed side). R_L at
         this block start. The hold prices a forced trip: an attacker who thins the venue
         (withdraws its own liquidity) must keep it distorted against arbitrage at every one
         of those block starts. A venue without that history confirms only in the block
         right after the arm.
    """
    m: ICircuitBreaker.Market = self.markets[market_id]
    since: uint256 = min(s.armed_block, block.number - min(self.params[market_id][P_HOLD_BLOCKS], block.number))
    low: uint256 = 0
    high: uint256 = 0
    complete: bool = False
    low, high, complete = staticcall IVenue(m.venue).settled_range(since)
    assert complete or block.number == s.armed_block + 1, "CircuitBreaker: venue cannot show every block since the arm"
    reference: uint256 = staticcall IReferenceOracle(m.oracle).price()
    cvd: uint256 = 0
    if high < reference:
        cvd = stats._deviation_bps(high, reference)
    elif low > reference:
        cvd = stats._deviation_bps(low, reference)
    assert cvd > self.params[market_id][P_CVD_TRIP_BPS], "CircuitBreaker: deviation did not hold over the hold and since the arm"
    depth: uint256 = staticcall IVenue(m.venue).settled_depth(self.params[market_id][P_DEPTH_BAND_BPS])
    rl: uint256 = stats._ratio_bps(depth, self.depth_baseline[market_id])
    assert rl < self.params[market_id][P_RL_TRIP_BPS], "CircuitBreaker: depth above trip threshold"
    return cvd, rl, reference


@internal
@view
def _check_venue_open(market_id: uint256, state: ICircuitBreaker.State):
    """
    @dev A venue the halt closes (a guarded pool, its market's consumer) keeps the price it was
         frozen at until NORMAL: in COOLDOWN and AUCTION its CVD, V_P and S_I are the crash's,
         not evidence, and a trip on them would void the reopening auction's round and spend the
         budget. Such a market trips by rule A or B again only once it has reopened (the
         guardian can at any time).
    """
    if state != ICircuitBreaker.State.NORMAL:
        assert not self._venue_halts_with_market(market_id), "CircuitBreaker: venue closed until the market reopens"


@internal
@view
def _check_recovery(market_id: uint256) -> (uint256, uint256):
    """
    @dev A venue that is itself a consumer (a guarded pool) is closed by the halt: its price
         cannot recover before it reopens, so for it recovery is judged on depth and a valid
         reference (the reopening phases then set its price). Any other venue must show both.
         Both at this block's start.
    """
    cvd: uint256 = 0
    rl: uint256 = 0
    reference: uint256 = 0
    cvd, rl, reference = self._cvd_rl(market_id)
    if not self._venue_halts_with_market(market_id):
        assert cvd < self.params[market_id][P_CVD_RESUME_BPS], "CircuitBreaker: deviation above resume threshold"
    assert rl > self.params[market_id][P_RL_RESUME_BPS], "CircuitBreaker: depth below resume threshold"
    return cvd, rl


@internal
@view
def _venue_halts_with_market(market_id: uint256) -> bool:
    return self.markets[market_id].venue in self._consumers[market_id]


@internal
@view
def _cvd_rl(market_id: uint256) -> (uint256, uint256, uint256):
    """
    @dev CVD and R_L at this block's start, and the reference; reverts with the oracle's
         reason when the reference price is invalid.
    """
    m: ICircuitBreaker.Market = self.markets[market_id]
    spot: uint256 = staticcall IVenue(m.venue).settled_spot_price()
    reference: uint256 = staticcall IReferenceOracle(m.oracle).price()
    depth: uint256 = staticcall IVenue(m.venue).settled_depth(self.params[market_id][P_DEPTH_BAND_BPS])
    return (
        stats._deviation_bps(spot, reference),
        stats._ratio_bps(depth, self.depth_baseline[market_id]),
        reference,
    )


@internal
@view
def _si_bps(venue: address, notional: uint256) -> uint256:
    """
    @dev Against the venue's spot now, the state its execution price is quoted from. A venue
         that cannot fill the notional returns 0, which reads as 100% slippage.
    """
    spot: uint256 = staticcall IVenue(venue).spot_price()
    exec_price: uint256 = staticcall IVenue(venue).exec_price(notional)
    return stats._drop_bps(spot, exec_price) if spot > 0 else BPS


@internal
@view
def _vp_bps(market_id: uint256, spot: uint256, window: uint256) -> uint256:
    """
    @dev Drop from the highest block-start price inside the window to `spot` (this block's
         start): the venue's own history (`settled_range` over the window's blocks at
         SECONDS_PER_BLOCK) and the poked observations, which are block-start prices too.
    """
    count: uint256 = (self._sampling[market_id] >> 8) & MASK_8
    low: uint256 = 0
    high: uint256 = 0
    complete: bool = False
    low, high, complete = staticcall IVenue(self.markets[market_id].venue).settled_range(
        block.number - min(window // SECONDS_PER_BLOCK, block.number)
    )
    high = max(high, spot)
    for i: uint256 in range(MAX_OBSERVATIONS):
        if i >= count:
            break
        obs: uint256 = self._observations[market_id][i]
        if (obs >> 128) + window >= block.timestamp:
            high = max(high, obs & MASK_128)
    return stats._drop_bps(high, spot)


@internal
@view
def _check_budget(market_id: uint256, s: ICircuitBreaker.Status):
    if s.trip_day == block.timestamp // DAY:
        assert s.trips_today < self.params[market_id][P_DAILY_TRIP_BUDGET], "CircuitBreaker: daily trip budget spent, guardian only"


@internal
@view
def _arm_live(market_id: uint256, s: ICircuitBreaker.Status) -> bool:
    return s.armed_block != 0 and block.timestamp <= s.armed_at + self.params[market_id][P_ARM_TTL_S]


@internal
@view
def _check_confirmable(market_id: uint256, s: ICircuitBreaker.Status):
    assert s.armed_block != 0, "CircuitBreaker: not armed"
    assert block.number > s.armed_block, "CircuitBreaker: confirm in a later block than the arm"
    assert block.timestamp <= s.armed_at + self.params[market_id][P_ARM_TTL_S], "CircuitBreaker: arm expired"


# ---------------------------------------------------------------- internal: transitions


@internal
def _trip(
    market_id: uint256, s: ICircuitBreaker.Status, reason: uint256, cvd: uint256, rl: uint256, si: uint256, vp: uint256,
    lce: uint256, known_reference: uint256,
):
    """
    @dev `known_reference`: the valid reference price the caller read in this call, 0 when
         none (then read here; an invalid one keeps the last valid frozen price).
    """
    reference: uint256 = known_reference
    if reference == 0:
        valid_feeds: uint256 = 0
        reference, valid_feeds = staticcall IReferenceOracle(self.markets[market_id].oracle).latest()
    frozen: uint256 = self.frozen_price[market_id]
    if reference > 0:
        frozen = reference
        self.frozen_price[market_id] = reference

    # Every trip counts, the guardian's too: (trip_day, trips_today) is also the halt's id, the
    # round of its reopening auction, so two halts of one day must never share it.
    today: uint256 = block.timestamp // DAY
    trip_day: uint256 = today
    trips_today: uint256 = s.trips_today + 1 if s.trip_day == today else 1
    new: ICircuitBreaker.Status = ICircuitBreaker.Status(
        state=ICircuitBreaker.State.HALTED,
        since=block.timestamp,
        resume_after=block.timestamp + self._halt_window_of(market_id),
        lapse_at=block.timestamp + self.params[market_id][P_MAX_HALT_S],
        trip_day=trip_day,
        trips_today=trips_today,
        armed_block=0,
        armed_at=0,
    )
    self._store(market_id, new)
    log ICircuitBreaker.MarketTripped(
        market_id=market_id, actor=msg.sender, reason=reason, cvd_bps=cvd, rl_bps=rl, si_bps=si,
        vp_bps=vp, lce_bps=lce, frozen_price=frozen, resume_after=new.resume_after, lapse_at=new.lapse_at,
    )
    self._notify(market_id, ICircuitBreaker.State.HALTED, frozen)


@internal
def _resume(market_id: uint256, s: ICircuitBreaker.Status, reason: uint256, cvd: uint256, rl: uint256):
    new: ICircuitBreaker.Status = s
    new.state = ICircuitBreaker.State.COOLDOWN
    new.since = block.timestamp
    new.armed_block = 0
    new.armed_at = 0
    self._store(market_id, new)
    log ICircuitBreaker.MarketResumed(
        market_id=market_id, actor=msg.sender, reason=reason, cvd_bps=cvd, rl_bps=rl,
        halted_s=block.timestamp - s.since,
    )
    self._notify(market_id, ICircuitBreaker.State.COOLDOWN, self.frozen_price[market_id])


@internal
def _extend(market_id: uint256, s: ICircuitBreaker.Status, until: uint256, reason: uint256, lce: uint256):
    new: ICircuitBreaker.Status = s
    new.resume_after = min(max(s.resume_after, until), s.lapse_at)
    new.armed_block = 0
    new.armed_at = 0
    self._store(market_id, new)
    log ICircuitBreaker.HaltExtended(
        market_id=market_id, actor=msg.sender, reason=reason, lce_bps=lce,
        old_resume_after=s.resume_after, new_resume_after=new.resume_after,
    )


@internal
def _sync(market_id: uint256) -> ICircuitBreaker.Status:
    """
    @dev Stores what time has changed (at most lapse -> cool-down -> auction -> normal).
    """
    self._check_market(market_id)
    s: ICircuitBreaker.Status = self._load(market_id)
    old_state: ICircuitBreaker.State = s.state
    for _: uint256 in range(3):
        reason: uint256 = 0
        before: ICircuitBreaker.State = s.state
        s, reason = self._advance(market_id, s)
        if reason == 0:
            break
        log ICircuitBreaker.StateAdvanced(market_id=market_id, actor=msg.sender, reason=reason, old_state=before, new_state=s.state)
    if s.state != old_state:
        self._store(market_id, s)
        self._notify(market_id, s.state, self.frozen_price[market_id])
    return s


@internal
@view
def _advance(market_id: uint256, s: ICircuitBreaker.Status) -> (ICircuitBreaker.Status, uint256):
    """
    @dev One time-driven step, with its reason; reason 0 when time changed nothing.
    """
    new: ICircuitBreaker.Status = s
    new.armed_block = 0
    new.armed_at = 0
    if s.state == ICircuitBreaker.State.HALTED and block.timestamp >= s.lapse_at:
        new.state = ICircuitBreaker.State.COOLDOWN
        new.since = s.lapse_at
        return new, REASON_LAPSED
    if s.state == ICircuitBreaker.State.COOLDOWN and block.timestamp >= s.since + self.params[market_id][P_COOLDOWN_S]:
        new.state = ICircuitBreaker.State.AUCTION
        new.since = s.since + self.params[market_id][P_COOLDOWN_S]
        return new, REASON_COOLDOWN_ELAPSED
    if s.state == ICircuitBreaker.State.AUCTION and block.timestamp >= s.since + self.params[market_id][P_AUCTION_S]:
        new.state = ICircuitBreaker.State.NORMAL
        new.since = s.since + self.params[market_id][P_AUCTION_S]
        return new, REASON_AUCTION_ELAPSED
    return s, 0


@internal
def _notify(market_id: uint256, new_state: ICircuitBreaker.State, frozen: uint256):
    for consumer: address in self._consumers[market_id]:
        extcall IBreakerConsumer(consumer).on_breaker_state(market_id, convert(new_state, uint256), frozen)


# ---------------------------------------------------------------- internal: sampling


@internal
def _record_observation(market_id: uint256, spot: uint256, sampling: uint256) -> uint256:
    assert spot > 0 and spot <= MASK_128, "CircuitBreaker: venue price out of range"
    head: uint256 = sampling & MASK_8
    count: uint256 = (sampling >> 8) & MASK_8
    self._observations[market_id][head] = (block.timestamp << 128) | spot
    head = (head + 1) % MAX_OBSERVATIONS
    count = min(count + 1, MAX_OBSERVATIONS)
    updated: uint256 = (sampling & ~LOW_56_BITS) | (block.timestamp << 16) | (count << 8) | head
    self._sampling[market_id] = updated
    return updated


@internal
def _add_depth_sample(market_id: uint256, depth: uint256, sampling: uint256) -> uint256:
    head: uint256 = (sampling >> 56) & MASK_8
    count: uint256 = (sampling >> 64) & MASK_8
    self._depth_samples[market_id][head] = depth
    head = (head + 1) % MAX_DEPTH_SAMPLES
    count = min(count + 1, MAX_DEPTH_SAMPLES)

    samples: DynArray[uint256, stats.MAX_VALUES] = []
    seed: uint256 = self.calm_depth[market_id]
    for i: uint256 in range(MAX_DEPTH_SAMPLES):
        if i < count:
            samples.append(self._depth_samples[market_id][i])
        else:
            samples.append(seed)
    baseline: uint256 = stats._median(samples)
    self.depth_baseline[market_id] = baseline

    low: uint256 = sampling & LOW_56_BITS
    updated: uint256 = (block.timestamp << 72) | (count << 64) | (head << 56) | low
    self._sampling[market_id] = updated
    log ICircuitBreaker.DepthSampled(market_id=market_id, depth=depth, baseline=baseline, samples=count)
    return updated


@internal
@pure
def _obs_last(sampling: uint256) -> uint256:
    return (sampling >> 16) & MASK_40


@internal
@pure
def _depth_last(sampling: uint256) -> uint256:
    return (sampling >> 72) & MASK_40


# ---------------------------------------------------------------- internal: storage and checks


@internal
@view
def _load(market_id: uint256) -> ICircuitBreaker.Status:
    w: uint256 = self._status[market_id]
    return ICircuitBreaker.Status(
        state=convert(w & MASK_8, ICircuitBreaker.State),
        since=(w >> 8) & MASK_40,
        resume_after=(w >> 48) & MASK_40,
        lapse_at=(w >> 88) & MASK_40,
        trip_day=(w >> 128) & MASK_32,
        trips_today=(w >> 160) & MASK_8,
        armed_block=(w >> 168) & MASK_48,
        armed_at=(w >> 216) & MASK_40,
    )


@internal
def _store(market_id: uint256, s: ICircuitBreaker.Status):
    self._status[market_id] = (
        convert(s.state, uint256)
        | (s.since << 8)
        | (s.resume_after << 48)
        | (s.lapse_at << 88)
        | (s.trip_day << 128)
        | (min(s.trips_today, 255) << 160)
        | (s.armed_block << 168)
        | (s.armed_at << 216)
    )


@internal
@view
def _check_market(market_id: uint256):
    assert market_id < self.market_count, "CircuitBreaker: unknown market"


@internal
@view
def _halt_window_of(market_id: uint256) -> uint256:
    return (
        max(self.params[market_id][P_T_DLP_S], self.params[market_id][P_T_PRIORITY_S])
        + self.params[market_id][P_T_BUFFER_S]
    )


@internal
@pure
def _halt_window(p: uint256[NUM_PARAMS]) -> uint256:
    return max(p[P_T_DLP_S], p[P_T_PRIORITY_S]) + p[P_T_BUFFER_S]


@internal
@pure
def _check_calm_depth(calm_depth: uint256, settled: uint256):
    assert calm_depth > 0, "CircuitBreaker: calm depth is zero"
    assert calm_depth <= settled * MAX_CALM_DEPTH_FACTOR and settled <= calm_depth * MAX_CALM_DEPTH_FACTOR, "CircuitBreaker: calm depth too far from the settled depth"


@internal
@pure
def _check_bounds(key: uint256, new_value: uint256):
    assert new_value >= PARAM_MIN[key] and new_value <= PARAM_MAX[key], concat(
        "CircuitBreaker: parameter ", uint2str(key), " out of bounds"
    )


@internal
@pure
def _check_consistency(p: uint256[NUM_PARAMS]):
    assert p[P_CVD_RESUME_BPS] < p[P_CVD_TRIP_BPS], "CircuitBreaker: CVD resume must be below CVD trip"
    assert p[P_RL_RESUME_BPS] > p[P_RL_TRIP_BPS], "CircuitBreaker: R_L resume must be above R_L trip"
    n: uint256 = self._halt_window(p)
    assert n >= MIN_HALT_WINDOW and n <= MAX_HALT_WINDOW, "CircuitBreaker: halt window N out of bounds"
    assert n < p[P_MAX_HALT_S], "CircuitBreaker: halt window N must be below max halt"
