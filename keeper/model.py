"""Plain data the keeper passes between sources, policy and executor (no I/O here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from keeper import params as P

DAY = 86_400


class State(enum.IntFlag):
    """The breaker's `State` flag values."""

    NORMAL = 1
    HALTED = 2
    COOLDOWN = 4
    AUCTION = 8


@dataclass(frozen=True)
class Status:
    """`CircuitBreaker.status(id)`: the stored word (its `state` may lag `state(id)`)."""

    state: State
    since: int
    resume_after: int
    lapse_at: int
    trip_day: int
    trips_today: int
    armed_block: int
    armed_at: int

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...]) -> Status:
        return cls(State(t[0]), *(int(v) for v in t[1:8]))


@dataclass(frozen=True)
class ChainIndicators:
    """`CircuitBreaker.indicators(id)`; prices and values 18 decimals, ratios in bps."""

    spot: int
    reference: int
    reference_valid: bool
    cvd_bps: int
    rl_bps: int
    si_bps: int
    vp_bps: int

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...]) -> ChainIndicators:
        return cls(int(t[0]), int(t[1]), bool(t[2]), *(int(v) for v in t[3:7]))


@dataclass(frozen=True)
class OnChainMarket:
    """One market as read at one block."""

    market_id: int
    block_number: int
    timestamp: int
    state: State  # effective now (`state(id)`), time-driven transitions included
    status: Status  # as stored
    indicators: ChainIndicators
    params: dict[str, int]
    keeper_role: bool
    venue: str = ""
    venue_depth: int | None = None  # venue depth within the band, 18 decimals
    # the venue is a consumer (a guarded pool) closed by the halt: resume is judged without its price
    venue_halts_with_market: bool = False
    auction: str = ""  # the market's reopening auction (`auction_of`); "" when it has none
    auction_orders: int = 0  # live orders in the auction's book for the current round (the trip id)

    @property
    def halt_window_s(self) -> int:
        return P.halt_window(self.params)


class Kind(enum.Enum):
    """Functions the keeper calls, the breaker's and the reopening auction's `settle`; the value is
    the function name."""

    ARM_TRIP = "arm_trip"
    TRIP = "trip"
    TRIP_ATTESTED = "trip_attested"
    EXTEND_HALT = "extend_halt"
    ARM_RESUME = "arm_resume"
    RESUME = "resume"
    SYNC = "sync"
    SETTLE_AUCTION = "settle"  # on the market's auction, not the breaker
    POKE = "poke"  # a V_P observation and, when due, a depth sample: the lowest priority

    @property
    def urgent(self) -> bool:
        return self in (Kind.ARM_TRIP, Kind.TRIP, Kind.TRIP_ATTESTED, Kind.EXTEND_HALT)


@dataclass(frozen=True)
class Action:
    kind: Kind
    market_id: int
    lce_bps: int | None = None
    reason: str = ""
    auction: str = ""  # SETTLE_AUCTION: the auction contract called

    def __post_init__(self) -> None:
        if self.kind == Kind.SETTLE_AUCTION and not self.auction:
            raise ValueError(f"settling market {self.market_id} needs its auction's address")

    @property
    def args(self) -> tuple[int, ...]:
        """The breaker call's arguments; `settle` takes the crossing, which the executor reads when
        sending."""
        if self.kind == Kind.SETTLE_AUCTION:
            return ()
        if self.kind in (Kind.TRIP_ATTESTED, Kind.EXTEND_HALT):
            assert self.lce_bps is not None
            return (self.market_id, self.lce_bps)
        return (self.market_id,)

    def describe(self) -> str:
        if self.kind == Kind.SETTLE_AUCTION:
            return f"settle(crossing) on auction {self.auction} of market {self.market_id}"
        return f"{self.kind.value}({', '.join(str(a) for a in self.args)})"


@dataclass(frozen=True)
class AuctionSettlement:
    """An `AuctionSettled` event of a settlement the keeper sent; prices 18 decimals, amounts raw
    collateral."""

    market_id: int
    auction: str
    round: int
    price: int
    volume: int
    imbalance: int
    bought: int
    sold: int
    pool_collateral_in: int
    pool_debt_in: int
    orders: int
    reference: int
    tx: str


@dataclass(frozen=True)
class MarketView:
    """What `policy.decide` sees for one market: the chain, the keeper's LCE, its settings."""

    chain: OnChainMarket
    lce_bps: float | None = None  # keeper-computed; None = unknown (bad or missing data)
    lce_safe_bps: float | None = None  # default: half the critical level
    extend_lead_s: int = 30
    notes: dict[str, Any] = field(default_factory=dict)
    poke_due: str = ""  # why a poke may be due (keeper/pokes.py); "" when none is
