"""decide(view): the contract's rules, seen from the keeper (pure, no chain)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper import params as P
from keeper.model import DAY, Action, ChainIndicators, Kind, MarketView, OnChainMarket, State, Status
from keeper.policy import decide

T0 = 1_760_126_400
PARAMS = P.resolve()
CALM = ChainIndicators(10**18, 10**18, True, 0, 10_000, 10, 0)
CRASH_A = replace(CALM, spot=9 * 10**17, cvd_bps=1_000, rl_bps=1_000)
CRASH_B = replace(CALM, vp_bps=1_500, si_bps=800)
RECOVERED = replace(CALM, cvd_bps=50, rl_bps=6_000)


def status(state=State.NORMAL, **kw) -> Status:
    values = {
        "state": state,
        "since": T0 - 1_000,
        "resume_after": 0,
        "lapse_at": 0,
        "trip_day": 0,
        "trips_today": 0,
        "armed_block": 0,
        "armed_at": 0,
    }
    values.update(kw)
    return Status(**values)


AUCTION = "0x00000000000000000000000000000000000A0C71"


def view(
    ind=CALM,
    state=State.NORMAL,
    stored=None,
    block=100,
    ts=T0,
    lce=None,
    role=True,
    auction="",
    orders=0,
    poke="",
    **kw,
) -> MarketView:
    chain = OnChainMarket(
        0,
        block,
        ts,
        state,
        stored or status(state),
        ind,
        dict(PARAMS),
        role,
        auction=auction,
        auction_orders=orders,
    )
    return MarketView(chain, lce, kw.get("safe"), kw.get("lead", 30), poke_due=poke)


def halted(ts=T0, **kw) -> Status:
    values = {
        "since": T0 - 100,
        "resume_after": T0 + 272,
        "lapse_at": T0 - 100 + 14_400,
        "trip_day": T0 // DAY,
        "trips_today": 1,
    }
    values.update(kw)
    return status(State.HALTED, **values)


# ---------------------------------------------------------------- calm


def test_decide__calm_does_nothing():
    assert decide(view()) is None
    assert decide(view(lce=50_000)) is None  # LCE alone never trips: V_P and S_I must hold on-chain


# ---------------------------------------------------------------- rule A


def test_decide__rule_a_arms_first():
    action = decide(view(CRASH_A))
    assert action == Action(Kind.ARM_TRIP, 0, reason=action.reason)
    assert "CVD 1000 > 300" in action.reason


def test_decide__rule_a_confirms_in_a_later_block():
    armed = status(armed_block=100, armed_at=T0)
    assert decide(view(CRASH_A, stored=armed, block=99)) is None  # arm is in the next block: wait
    assert decide(view(CRASH_A, stored=armed, block=100)).kind == Kind.TRIP  # next block 101 > 100


def test_decide__rule_a_expired_arm_rearms():
    armed = status(armed_block=90, armed_at=T0 - 121)
    assert decide(view(CRASH_A, stored=armed)).kind == Kind.ARM_TRIP


def test_decide__rule_a_arm_under_another_state_is_stale():
    # stored COOLDOWN with an arm, but time moved it to AUCTION: the contract's sync clears the arm
    armed = status(State.COOLDOWN, armed_block=99, armed_at=T0 - 5)
    assert decide(view(CRASH_A, state=State.AUCTION, stored=armed)).kind == Kind.ARM_TRIP


def test_decide__rule_a_needs_valid_reference():
    assert decide(view(replace(CRASH_A, reference_valid=False))) is None


@pytest.mark.threat
def test_decide__budget_spent_stops_rules_a_and_b():
    spent = status(trip_day=(T0 + 1) // DAY, trips_today=3)
    assert decide(view(CRASH_A, stored=spent)) is None
    assert decide(view(CRASH_B, stored=spent, lce=20_000)) is None
    yesterday = status(trip_day=(T0 + 1) // DAY - 1, trips_today=3)
    assert decide(view(CRASH_A, stored=yesterday)).kind == Kind.ARM_TRIP


# ---------------------------------------------------------------- rule B


def test_decide__rule_b_with_critical_lce():
    action = decide(view(CRASH_B, lce=12_345.6))
    assert (action.kind, action.args) == (Kind.TRIP_ATTESTED, (0, 12_345))


def test_decide__rule_b_preferred_over_rule_a():
    both = replace(CRASH_A, vp_bps=1_500, si_bps=800)
    assert decide(view(both, lce=20_000)).kind == Kind.TRIP_ATTESTED


def test_decide__rule_b_not_without_role_or_lce():
    assert decide(view(CRASH_B, lce=20_000, role=False)) is None
    assert decide(view(CRASH_B, lce=None)) is None  # unknown LCE (bad data) is no evidence
    assert decide(view(CRASH_B, lce=9_999)) is None
    assert decide(view(replace(CRASH_B, si_bps=500), lce=20_000)) is None  # strictly above


# ---------------------------------------------------------------- halted: extension, hysteresis, resume


def test_decide__halted_waits_for_window():
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 270)) is None


def test_decide__resume_arm_then_confirm():
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 272)).kind == Kind.ARM_RESUME
    armed = halted(armed_block=150, armed_at=T0 + 280)
    assert decide(view(RECOVERED, State.HALTED, armed, block=149, ts=T0 + 281)) is None
    assert decide(view(RECOVERED, State.HALTED, armed, block=150, ts=T0 + 290)).kind == Kind.RESUME


def test_decide__no_resume_until_recovered():
    assert decide(view(CRASH_A, State.HALTED, halted(), ts=T0 + 400)) is None
    assert decide(view(replace(RECOVERED, rl_bps=5_000), State.HALTED, halted(), ts=T0 + 400)) is None


def test_decide__venue_closed_by_the_halt_resumes_on_depth_alone():
    """A guarded pool that is its own venue keeps its crash price while closed (the contract then
    checks R_L and a valid reference only)."""
    frozen_price = replace(RECOVERED, cvd_bps=900)
    external = view(frozen_price, State.HALTED, halted(), ts=T0 + 400)
    assert decide(external) is None
    closed = replace(external, chain=replace(external.chain, venue_halts_with_market=True))
    assert decide(closed).kind == Kind.ARM_RESUME
    thin = replace(closed, chain=replace(closed.chain, indicators=replace(frozen_price, rl_bps=5_000)))
    assert decide(thin) is None


@pytest.mark.parametrize("state", [State.COOLDOWN, State.AUCTION])
def test_decide__closed_venue_is_no_trip_evidence_until_it_reopens(state):
    external = view(CRASH_A, state, lce=20_000)
    assert decide(external).kind == Kind.ARM_TRIP  # another venue's crash price is evidence
    closed = replace(external, chain=replace(external.chain, venue_halts_with_market=True))
    assert decide(closed) is None
    reopened = replace(closed, chain=replace(closed.chain, state=State.NORMAL, status=status(State.NORMAL)))
    assert decide(reopened).kind == Kind.ARM_TRIP


def test_decide__extends_near_end_while_lce_critical():
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 100, lce=20_000)) is None  # not yet
    action = decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 250, lce=20_000))
    assert (action.kind, action.args) == (Kind.EXTEND_HALT, (0, 20_000))
    # after the window too: extend rather than resume
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 400, lce=20_000)).kind == Kind.EXTEND_HALT


def test_decide__no_extension_past_lapse():
    near_lapse = halted(resume_after=T0 + 14_300 - 100, lapse_at=T0 + 14_300 - 100)
    assert decide(view(RECOVERED, State.HALTED, near_lapse, ts=T0 + 14_150, lce=20_000)) is None


def test_decide__elevated_lce_holds_the_halt():
    # between safe (half of critical by default) and critical: neither extend nor resume
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 400, lce=6_000)) is None
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 400, lce=4_000)).kind == Kind.ARM_RESUME
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 400, lce=None)).kind == Kind.ARM_RESUME


def test_decide__sync_when_stored_state_lags():
    action = decide(view(state=State.NORMAL, stored=status(State.AUCTION)))
    assert action.kind == Kind.SYNC


# ---------------------------------------------------------------- reopening auction


def test_decide__settles_the_auction_when_its_book_has_orders():
    # time moved COOLDOWN to AUCTION; `settle` stores that itself, so no sync first
    action = decide(view(state=State.AUCTION, stored=status(State.COOLDOWN), auction=AUCTION, orders=3))
    assert action == Action(Kind.SETTLE_AUCTION, 0, reason="3 orders in the round's book", auction=AUCTION)
    assert action.args == ()  # the crossing is read when sending
    assert decide(view(state=State.AUCTION, auction=AUCTION, orders=1)).kind == Kind.SETTLE_AUCTION


def test_decide__empty_book_is_left_to_elapse():
    assert decide(view(state=State.AUCTION, auction=AUCTION, orders=0)) is None
    assert decide(view(state=State.AUCTION, stored=status(State.COOLDOWN), auction=AUCTION)).kind == Kind.SYNC


def test_decide__no_auction_syncs_as_before():
    assert decide(view(state=State.AUCTION, stored=status(State.COOLDOWN), orders=5)).kind == Kind.SYNC
    assert decide(view(state=State.AUCTION, orders=5)) is None


def test_decide__settles_only_in_auction():
    for state in (State.NORMAL, State.HALTED, State.COOLDOWN):
        stored = halted() if state == State.HALTED else status(state)
        assert decide(view(state=state, stored=stored, auction=AUCTION, orders=3)) is None


def test_decide__settlement_preferred_over_a_trip_in_auction():
    # the settlement moves the pool to the clearing price: rule A is judged again on the reopened pool
    assert decide(view(CRASH_A, State.AUCTION, auction=AUCTION, orders=2)).kind == Kind.SETTLE_AUCTION
    assert (
        decide(view(CRASH_B, State.AUCTION, lce=20_000, auction=AUCTION, orders=2)).kind
        == Kind.SETTLE_AUCTION
    )
    assert decide(view(CRASH_A, State.AUCTION, auction=AUCTION, orders=0)).kind == Kind.ARM_TRIP


def test_action__settle_needs_the_auction_address():
    with pytest.raises(ValueError, match="needs its auction's address"):
        Action(Kind.SETTLE_AUCTION, 0)


# ---------------------------------------------------------------- pokes

DUE = "V_P observation (one per 12 s)"


def test_decide__pokes_when_due_and_nothing_else_is():
    assert decide(view(poke=DUE)) == Action(Kind.POKE, 0, reason=DUE)
    assert decide(view(poke=DUE)).args == (0,)
    assert decide(view(poke="")) is None  # not due (or `never`): nothing


ARMED = status(armed_block=100, armed_at=T0)
RESUME_ARMED = halted(armed_block=150, armed_at=T0 + 280)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (view(CRASH_B, lce=20_000), Kind.TRIP_ATTESTED),
        (view(CRASH_A), Kind.ARM_TRIP),
        (view(CRASH_A, stored=ARMED, block=100), Kind.TRIP),
        (view(RECOVERED, State.HALTED, halted(), ts=T0 + 250, lce=20_000), Kind.EXTEND_HALT),
        (view(RECOVERED, State.HALTED, halted(), ts=T0 + 272), Kind.ARM_RESUME),
        (view(RECOVERED, State.HALTED, RESUME_ARMED, block=150, ts=T0 + 290), Kind.RESUME),
        (view(state=State.AUCTION, auction=AUCTION, orders=1), Kind.SETTLE_AUCTION),
        (view(state=State.NORMAL, stored=status(State.AUCTION)), Kind.SYNC),
    ],
)
def test_decide__never_pokes_before_a_transition(due, expected):
    assert decide(due).kind == expected
    assert decide(replace(due, poke_due=DUE)).kind == expected


def test_decide__pokes_while_a_transition_waits():
    # halted, window not over / LCE elevated: nothing to send, so the poke may go
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 270, poke=DUE)).kind == Kind.POKE
    assert decide(view(RECOVERED, State.HALTED, halted(), ts=T0 + 400, lce=6_000, poke=DUE)).kind == Kind.POKE


# ---------------------------------------------------------------- property: never act without on-chain
# evidence


bps = st.integers(0, 12_000)


@settings(max_examples=300, deadline=None)
@given(
    cvd=bps,
    rl=bps,
    si=bps,
    vp=bps,
    valid=st.booleans(),
    lce=st.none() | st.floats(0, 100_000),
    role=st.booleans(),
    state=st.sampled_from([State.NORMAL, State.COOLDOWN, State.AUCTION, State.HALTED]),
    dt=st.integers(0, 20_000),
    armed=st.booleans(),
    has_auction=st.booleans(),
    orders=st.integers(0, 3),
    poke=st.booleans(),
)
def test_decide__actions_only_when_the_contract_would_accept(
    cvd, rl, si, vp, valid, lce, role, state, dt, armed, has_auction, orders, poke
):
    ind = ChainIndicators(10**18, 10**18, valid, cvd, rl, si, vp)
    stored = (
        halted(armed_block=99 if armed else 0, armed_at=T0 + dt - 10 if armed else 0)
        if state == State.HALTED
        else status(state, armed_block=99 if armed else 0, armed_at=T0 + dt - 10 if armed else 0)
    )
    v = view(
        ind,
        state,
        stored,
        block=100,
        ts=T0 + dt,
        lce=lce,
        role=role,
        auction=AUCTION if has_auction else "",
        orders=orders,
    )
    action = decide(v)
    # a due poke changes nothing but the idle case
    poked = decide(replace(v, poke_due=DUE if poke else ""))
    assert poked == (Action(Kind.POKE, 0, reason=DUE) if action is None and poke else action)
    if action is None:
        return
    p = PARAMS
    k = action.kind
    if k in (Kind.ARM_TRIP, Kind.TRIP):
        assert state != State.HALTED and valid and cvd > p["cvd_trip_bps"] and rl < p["rl_trip_bps"]
    if k == Kind.TRIP:
        assert armed
    if k == Kind.TRIP_ATTESTED:
        assert role and state != State.HALTED and lce >= p["lce_critical_bps"]
        assert vp > p["vp_trip_bps"] and si > p["si_trip_bps"] and action.lce_bps >= p["lce_critical_bps"]
    if k == Kind.EXTEND_HALT:
        assert role and state == State.HALTED and lce >= p["lce_critical_bps"]
    if k == Kind.SETTLE_AUCTION:
        assert state == State.AUCTION and has_auction and orders > 0 and action.auction == AUCTION
    if state == State.AUCTION and has_auction and orders > 0:
        assert k == Kind.SETTLE_AUCTION  # nothing else is chosen over a settlement that can happen
    if k in (Kind.ARM_RESUME, Kind.RESUME):
        assert state == State.HALTED and valid and cvd < p["cvd_resume_bps"] and rl > p["rl_resume_bps"]
        assert T0 + dt + 1 >= stored.resume_after
        assert lce is None or lce < p["lce_critical_bps"] / 2
