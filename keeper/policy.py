"""The keeper's decision: one function, `decide(view) -> Action | None`, mirroring the contract.

The contract is the judge; the policy only avoids sending what it would refuse and picks the
cheapest transition that holds:

- not HALTED (NORMAL, COOLDOWN or AUCTION), daily budget left, and the venue open (a venue the
  halt closes shows its frozen crash price until NORMAL, and the contract refuses to trip on it):
  rule B when the keeper holds KEEPER_ROLE, on-chain V_P and S_I are above their trip levels
  and the keeper's LCE is at or above the critical level (one transaction, so preferred);
  otherwise rule A when on-chain CVD and R_L hold: arm, then confirm in a later block while
  the arm is live.
- HALTED: while LCE is critical, extend the halt when its window is about to end (never arm a
  resume); between the safe and the critical level, hold (hysteresis); after the halt window,
  when on-chain CVD and R_L have recovered (R_L alone for a venue the halt closes), arm the
  resume, then confirm in a later block.
- AUCTION (time-driven; the stored state may still say COOLDOWN) and the market has a reopening
  auction whose book holds orders for this round: `settle(crossing)` on the auction, before the
  trip rules. The settlement trades the pool to the clearing price and reopens the market, so
  rule A's evidence (the pool's spot and depth) is judged again on the reopened pool in the next
  block. An empty book is left to elapse by time: nothing would execute, and the settlement would
  only reopen early at the pool's own spot with the band centred there, where the time-driven
  reopening re-reads the reference.
- a stored state behind the time-driven one: `sync`, so consumers (pool, lending) reopen.
- nothing of the above, and a poke may be due (`view.poke_due`, keeper/pokes.py): `poke(id)`, a V_P
  observation for rule B on a venue without block-start history, and the depth samples. It is never
  chosen over a transition; the executor sends it only if its simulation returns True.

Unknown LCE (bad or missing data) is no evidence: it never trips, never extends, never blocks
a resume the contract allows anyway.
"""

from __future__ import annotations

from keeper.model import DAY, Action, Kind, MarketView, State


def _arm_live(view: MarketView, next_ts: int) -> bool:
    c = view.chain
    s = c.status
    # An arm stored under another state is cleared by the contract's sync before it is checked.
    return s.state == c.state and s.armed_block != 0 and next_ts <= s.armed_at + c.params["arm_ttl_s"]


def lce_level(view: MarketView) -> str:
    """ "critical", "elevated" (between safe and critical), "safe" or "unknown"."""
    if view.lce_bps is None:
        return "unknown"
    critical = view.chain.params["lce_critical_bps"]
    safe = view.lce_safe_bps if view.lce_safe_bps is not None else critical / 2
    if view.lce_bps >= critical:
        return "critical"
    if view.lce_bps >= safe:
        return "elevated"
    return "safe"


def decide(view: MarketView) -> Action | None:
    action = _transition(view)
    if action is None and view.poke_due:
        return Action(Kind.POKE, view.chain.market_id, reason=view.poke_due)
    return action


def _transition(view: MarketView) -> Action | None:
    c = view.chain
    p = c.params
    ind = c.indicators
    next_block = c.block_number + 1
    next_ts = c.timestamp + 1
    level = lce_level(view)
    mid = c.market_id

    if c.state == State.HALTED:
        s = c.status
        if level == "critical":
            lead = min(view.extend_lead_s, c.halt_window_s // 2)
            would_move = min(next_ts + c.halt_window_s, s.lapse_at) > s.resume_after
            if c.keeper_role and next_ts + lead >= s.resume_after and would_move:
                return Action(
                    Kind.EXTEND_HALT,
                    mid,
                    int(view.lce_bps or 0),
                    f"LCE {view.lce_bps:,.0f} bps >= critical {p['lce_critical_bps']:,} bps",
                )
            return None
        if level == "elevated":
            return None
        if next_ts < s.resume_after:
            return None
        # A venue closed by the halt cannot show its price recovering: the contract then checks depth only.
        price_ok = c.venue_halts_with_market or ind.cvd_bps < p["cvd_resume_bps"]
        recovered = ind.reference_valid and price_ok and ind.rl_bps > p["rl_resume_bps"]
        if not recovered:
            return None
        why = (
            f"venue closed by the halt, R_L {ind.rl_bps} > {p['rl_resume_bps']} bps"
            if c.venue_halts_with_market
            else f"CVD {ind.cvd_bps} < {p['cvd_resume_bps']} bps and R_L {ind.rl_bps} > "
            f"{p['rl_resume_bps']} bps"
        )
        if _arm_live(view, next_ts):
            return Action(Kind.RESUME, mid, reason=why) if next_block > s.armed_block else None
        return Action(Kind.ARM_RESUME, mid, reason=why)

    if c.state == State.AUCTION and c.auction and c.auction_orders > 0:
        return Action(
            Kind.SETTLE_AUCTION,
            mid,
            reason=f"{c.auction_orders} orders in the round's book",
            auction=c.auction,
        )

    s = c.status
    budget_spent = s.trip_day == next_ts // DAY and s.trips_today >= p["daily_trip_budget"]
    # A venue the halt closes shows its frozen crash price until NORMAL: the contract trips on it only then.
    venue_closed = c.state != State.NORMAL and c.venue_halts_with_market
    if not budget_spent and not venue_closed:
        if (
            c.keeper_role
            and level == "critical"
            and ind.vp_bps > p["vp_trip_bps"]
            and ind.si_bps > p["si_trip_bps"]
        ):
            return Action(
                Kind.TRIP_ATTESTED,
                mid,
                int(view.lce_bps or 0),
                f"V_P {ind.vp_bps} > {p['vp_trip_bps']} bps, S_I {ind.si_bps} > {p['si_trip_bps']} bps, "
                f"LCE {view.lce_bps:,.0f} bps",
            )
        if ind.reference_valid and ind.cvd_bps > p["cvd_trip_bps"] and ind.rl_bps < p["rl_trip_bps"]:
            why = f"CVD {ind.cvd_bps} > {p['cvd_trip_bps']} bps and R_L {ind.rl_bps} < {p['rl_trip_bps']} bps"
            if _arm_live(view, next_ts):
                return Action(Kind.TRIP, mid, reason=why) if next_block > s.armed_block else None
            return Action(Kind.ARM_TRIP, mid, reason=why)
    if s.state != c.state:
        return Action(Kind.SYNC, mid, reason=f"stored {s.state.name} behind {c.state.name}")
    return None
