"""The model the coupled state machine predicts with: the breaker's time-made transitions, its parameter
consistency check, the pool's constant-product output, and the revert reasons and constants the steps
expect (tests/property/test_st_coupled.py)."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import strategies as st

from keeper import params as P
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL

STATE_NAMES = {NORMAL: "NORMAL", HALTED: "HALTED", COOLDOWN: "COOLDOWN", AUCTION: "AUCTION"}
WAD = 10**18
BPS = 10_000
DAY = 86_400
MAX = 2**256 - 1
MASK_128 = 2**128 - 1
COL = 10**18  # one collateral unit (18 decimals)
USD = 10**6  # one debt unit (6 decimals)
DEBT_SCALE = 10**12
FEED_UNIT = 10**8
PRICE_ORACLE, PRICE_VENUE = 1, 2
LIQUIDATION_THRESHOLD_BPS = 8_000

# Breaker parameter keys used by the model.
K = {p.name: p.key for p in P.PARAMS}

CLOSED = {
    HALTED: "GuardedPool: market halted",
    COOLDOWN: "GuardedPool: market in cooldown",
    AUCTION: "GuardedPool: market in reopening auction",
}
STALE = "GuardedPool: reference price invalid and band centre stale"
BELOW_QUORUM = "ReferenceOracle: below quorum"
# Rules A and B read the venue's price; the pool keeps its crash price until it reopens.
VENUE_CLOSED = "CircuitBreaker: venue closed until the market reopens"
MISSING_ROLE = "access_control: account is missing role"
NOT_OWNER = "ownable: caller is not the owner"
PAUSED = "pausable: contract is paused"


# ---------------------------------------------------------------- pure models


class Status(NamedTuple):
    state: int
    since: int
    resume_after: int
    lapse_at: int
    trip_day: int
    trips_today: int
    armed_block: int
    armed_at: int


def advance(s: Status, p: list[int], now: int) -> Status:
    """CircuitBreaker._advance, repeated: the transitions time has made by `now`."""
    for _ in range(3):
        if s.state == HALTED and now >= s.lapse_at:
            s = s._replace(state=COOLDOWN, since=s.lapse_at, armed_block=0, armed_at=0)
        elif s.state == COOLDOWN and now >= s.since + p[K["cooldown_s"]]:
            s = s._replace(state=AUCTION, since=s.since + p[K["cooldown_s"]], armed_block=0, armed_at=0)
        elif s.state == AUCTION and now >= s.since + p[K["auction_s"]]:
            s = s._replace(state=NORMAL, since=s.since + p[K["auction_s"]], armed_block=0, armed_at=0)
        else:
            break
    return s


def halt_window(p: list[int]) -> int:
    return max(p[K["t_dlp_s"]], p[K["t_priority_s"]]) + p[K["t_buffer_s"]]


def breaker_consistency(p: list[int]) -> str | None:
    """CircuitBreaker._check_consistency: the first reason a parameter set is refused."""
    if not p[K["cvd_resume_bps"]] < p[K["cvd_trip_bps"]]:
        return "CircuitBreaker: CVD resume must be below CVD trip"
    if not p[K["rl_resume_bps"]] > p[K["rl_trip_bps"]]:
        return "CircuitBreaker: R_L resume must be above R_L trip"
    n = halt_window(p)
    if not 60 <= n <= 3_600:
        return "CircuitBreaker: halt window N out of bounds"
    if not n < p[K["max_halt_s"]]:
        return "CircuitBreaker: halt window N must be below max halt"
    return None


def amount_out(amount_in: int, r_in: int, r_out: int, fee_bps: int) -> int:
    in_after_fee = amount_in * (BPS - fee_bps)
    return in_after_fee * r_out // (r_in * BPS + in_after_fee)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def in_bounds_or_not(low: int, high: int, default: int):
    """Mostly sensible values (the default, near it, anywhere in bounds), sometimes just outside."""
    inside = st.one_of(
        st.just(default),
        st.integers(min_value=max(low, default // 2), max_value=min(high, max(default * 2, low))),
        st.integers(min_value=low, max_value=high),
    )
    outside = [high + 1, high * 2 + 1] + ([low - 1] if low > 0 else [])
    return st.one_of(inside, inside, inside, st.sampled_from(outside))
