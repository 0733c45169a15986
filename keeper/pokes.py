"""When the keeper pokes: `CircuitBreaker.poke(id)` records a V_P observation (at most one per
`vp_window_s // 24` seconds, the spacing) and a depth sample (at most one per DEPTH_SAMPLE_INTERVAL),
both as the previous block left the venue, and returns True when it recorded something.

What a market's pokes are for (`MarketSettings.poke`):

- `auto` (default): V_P observations unless the venue records its own block starts, that is unless it
  is a guarded pool (`venue_halts_with_market`: the breaker closes it at a halt, and it keeps a ring of
  its block starts that `settled_range` reads). Not the `complete` flag of `settled_range`: the Curve
  adapter answers (EMA, EMA, complete) and a Uniswap V2 pair (this block's start, incomplete), and on
  both V_P's high comes only from poked observations. A guarded pool gets depth samples only.
- `always`: observations whatever the venue (a guarded pool whose ring of 32 starts is shorter than a
  wide V_P window). `never`: no pokes.

The contract keeps its sampling clock private, so the simulation of `poke` at `pending` is the judge:
the executor sends only when it returns True. This schedule only spares simulations that would surely
return False, from what the keeper saw happen:

- a market seen for the first time (a keeper just started) is checked at once.
- a poke of the keeper's that landed at t makes the next due at t + spacing (observations) or
  t + DEPTH_SAMPLE_INTERVAL (depth samples alone); the keeper simulates from the head whose next block
  may reach that (head + the last block interval). A simulation that says False there (the block came
  early) is tried again next block.
- a False without that knowledge means someone else poked: the next check is one recheck period later
  (a spacing; DEPTH_RECHECK_S for depth samples alone), so an observation is at most one spacing late
  and a depth sample at most DEPTH_RECHECK_S, whoever pokes.
- a poke mined reverted (a Uniswap V2 pair that traded earlier in the same block makes its settled
  views revert) waits one spacing, doubled for each further revert in a row up to MAX_BACKOFF_SPACINGS:
  never a transaction a block on a pair that keeps reverting it.

Pure bookkeeping (no I/O): the runner feeds it heads, outcomes and receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keeper.model import OnChainMarket

PokeMode = Literal["auto", "always", "never"]

# Mirrors CircuitBreaker.vy: observations per V_P window, the depth sampling interval, the block time
# its `settled_range` look-back assumes.
OBS_PER_WINDOW = 24
DEPTH_SAMPLE_INTERVAL = 21_600
SECONDS_PER_BLOCK = 12
# Depth samples alone, after a simulation said False without the keeper knowing the contract's clock:
# check again this much later (a sample is then at most this late; 96 eth_calls a day at most).
DEPTH_RECHECK_S = DEPTH_SAMPLE_INTERVAL // 24
# A poke mined reverted waits one spacing, doubled per further revert in a row, up to this many.
MAX_BACKOFF_SPACINGS = 8


def spacing_s(chain: OnChainMarket) -> int:
    """The contract's least time between two observations of the market."""
    return max(1, chain.params["vp_window_s"] // OBS_PER_WINDOW)


def pokes_observations(chain: OnChainMarket, mode: PokeMode) -> bool:
    """Whether the market's pokes are for V_P observations (else for depth samples alone)."""
    return mode == "always" or (mode == "auto" and not chain.venue_halts_with_market)


@dataclass
class _Clock:
    observations: bool  # what the pokes are for when `due_at` was set
    spacing: int
    due_at: int  # the first block timestamp at which a poke may record something
    exact: bool = False  # `due_at` follows the keeper's own poke that landed
    landed_at: int | None = None  # block timestamp of the keeper's last poke that landed
    reverts: int = 0  # the keeper's pokes mined reverted in a row

    @property
    def interval(self) -> int:
        """Between two pokes that record something."""
        return self.spacing if self.observations else DEPTH_SAMPLE_INTERVAL

    @property
    def recheck(self) -> int:
        """After a simulation said False without the keeper knowing the contract's clock."""
        return self.spacing if self.observations else DEPTH_RECHECK_S


class PokeSchedule:
    """Per market, from which head a poke may be due."""

    def __init__(self) -> None:
        self._clocks: dict[int, _Clock] = {}
        self._head: tuple[int, int] | None = None  # (number, timestamp) of the last head seen
        self.block_interval_s = SECONDS_PER_BLOCK

    def observe_head(self, number: int, timestamp: int) -> None:
        """Learns the chain's block interval from consecutive heads (to estimate the pending block's time)."""
        if self._head is not None and number > self._head[0]:
            self.block_interval_s = max(1, (timestamp - self._head[1]) // (number - self._head[0]))
        self._head = (number, timestamp)

    def _clock(self, chain: OnChainMarket, mode: PokeMode) -> _Clock:
        observations = pokes_observations(chain, mode)
        spacing = spacing_s(chain)
        clock = self._clocks.get(chain.market_id)
        if clock is None or clock.observations != observations:
            landed = None if clock is None else clock.landed_at
            clock = _Clock(observations, spacing, 0, landed_at=landed)
            if landed is not None:  # the keeper's last poke took what was due then
                clock.due_at = landed + clock.interval
            self._clocks[chain.market_id] = clock
        clock.spacing = spacing
        return clock

    def due(self, chain: OnChainMarket, mode: PokeMode) -> str:
        """Why a poke may be due in the next block ("" when it surely is not, or the market is `never`)."""
        if mode == "never":
            return ""
        clock = self._clock(chain, mode)
        if chain.timestamp + self.block_interval_s < clock.due_at:
            return ""
        if clock.observations:
            return f"V_P observation (one per {clock.spacing} s)"
        return f"depth sample (one per {DEPTH_SAMPLE_INTERVAL:,} s)"

    def landed(self, market_id: int, block_timestamp: int, success: bool) -> None:
        """The keeper's poke was mined in a block of that timestamp (reverted unless `success`)."""
        clock = self._clocks.get(market_id)
        if clock is None:  # adopted from the journal before the market was first seen
            return
        if success:
            clock.reverts = 0
            clock.landed_at = block_timestamp
            clock.due_at = block_timestamp + clock.interval
            clock.exact = True
            return
        clock.reverts += 1
        clock.due_at = block_timestamp + clock.spacing * min(2 ** (clock.reverts - 1), MAX_BACKOFF_SPACINGS)
        clock.exact = False

    def nothing_to_record(self, market_id: int, head_timestamp: int) -> None:
        """The simulation of `poke` returned False: not due in the pending block."""
        clock = self._clocks.get(market_id)
        if clock is None:
            return
        if clock.exact:
            clock.exact = False  # the block came early: the next one may be due
            return
        clock.due_at = head_timestamp + clock.recheck


# What the executor's outcome of a poke (`Outcome.status`) says of the market's pokes: True, not needed
# (someone else recorded); False, failed (a revert, an RPC error, a send refused, fees over
# `poke_max_fee_gwei`); absent, not known yet (sent: known when it is mined; in flight, deferred, paused).
POKE_OUTCOMES: dict[str, bool] = {
    "not-due": True,
    "reverted": False,
    "error": False,
    "failed": False,
    "too-expensive": False,
}
