"""The keeper's pokes: what they are for and when they are due (keeper/pokes.py), that a simulation
returning False or reverting sends nothing, that a failing poke never stops a cycle, that any other
action takes over a pending poke's nonce, and that on a Uniswap V2 pair (no block-start history) the
keeper's own pokes are what lets rule B trip a real multi-block crash."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from devchain import deploy_system, transact
from devchain.uniswap import DevPairMarket, deploy_pair_market
from keeper import params as P
from keeper.chain import RpcUnavailable
from keeper.executor import DEFAULT_GAS
from keeper.executor.calls import Simulation
from keeper.executor.sending import Sender
from keeper.journal import InFlight
from keeper.model import Action, ChainIndicators, Kind, OnChainMarket, State, Status
from keeper.pokes import DEPTH_RECHECK_S, DEPTH_SAMPLE_INTERVAL, MAX_BACKOFF_SPACINGS, PokeSchedule
from tests.keeper.conftest import cex_source, nonce_of, recorded, tripped_events

T0 = 1_760_126_400
SPACING = 300 // 24  # the default vp_window_s over the contract's 24 observations a window
CALM = ChainIndicators(10**18, 10**18, True, 0, 10_000, 10, 0)
NORMAL = Status(State.NORMAL, T0 - 1_000, 0, 0, 0, 0, 0, 0)


def market(ts: int = T0, guarded: bool = False, block: int = 100, **params: int) -> OnChainMarket:
    """The market read at `block`; `guarded`: its venue is a consumer closed by the halt (a guarded pool)."""
    return OnChainMarket(
        0, block, ts, State.NORMAL, NORMAL, CALM, P.resolve(params), True, venue_halts_with_market=guarded
    )


def schedule_at(ts: int, interval: int = SPACING) -> PokeSchedule:
    """A schedule that has seen two heads `interval` seconds apart, the second at `ts`."""
    schedule = PokeSchedule()
    schedule.observe_head(99, ts - interval)
    schedule.observe_head(100, ts)
    return schedule


OBSERVATION = f"V_P observation (one per {SPACING} s)"
DEPTH = "depth sample (one per 21,600 s)"


# ---------------------------------------------------------------- what the pokes are for


@pytest.mark.parametrize(
    ("mode", "guarded", "expected"),
    [
        # a Uniswap V2 pair or a Curve pool (whose `settled_range` says complete): no block starts of its own
        ("auto", False, OBSERVATION),
        ("auto", True, DEPTH),  # a guarded pool records its own block starts: depth samples only
        ("always", True, OBSERVATION),
        ("always", False, OBSERVATION),
    ],
)
def test_due__observations_unless_the_venue_records_its_block_starts(mode, guarded, expected):
    assert schedule_at(T0).due(market(guarded=guarded), mode) == expected  # first sight: checked at once


def test_due__never_disables_every_poke():
    schedule = schedule_at(T0 + DEPTH_SAMPLE_INTERVAL)
    for guarded in (False, True):
        assert schedule.due(market(guarded=guarded), "never") == ""
        assert schedule.due(market(T0 + 10 * DEPTH_SAMPLE_INTERVAL, guarded=guarded), "never") == ""


# ---------------------------------------------------------------- observations


def test_due__observation_one_spacing_after_the_keepers_own_poke_landed():
    schedule = schedule_at(T0)
    assert schedule.due(market(T0), "auto")  # nothing known: simulate now
    schedule.landed(0, T0 + SPACING, success=True)
    schedule.observe_head(101, T0 + SPACING)
    # the next block (about one interval on) reaches the poke's time + spacing: simulate from this head
    assert schedule.due(market(T0 + SPACING - 1), "auto") == ""
    assert schedule.due(market(T0 + SPACING), "auto") == OBSERVATION


def test_due__spacing_follows_the_on_chain_window():
    schedule = schedule_at(T0, interval=12)
    schedule.due(market(T0, vp_window_s=3_600), "auto")
    schedule.landed(0, T0, success=True)
    assert 3_600 // 24 == 150
    assert schedule.due(market(T0 + 150 - 13, vp_window_s=3_600), "auto") == ""
    assert schedule.due(market(T0 + 150 - 12, vp_window_s=3_600), "auto") == "V_P observation (one per 150 s)"


def test_due__nothing_to_record_from_an_early_block_keeps_the_clock_then_waits_a_spacing():
    schedule = schedule_at(T0)  # blocks 12 s apart
    schedule.due(market(T0), "auto")
    schedule.landed(0, T0, success=True)
    assert schedule.due(market(T0), "auto")  # the next block, 12 s on, may reach T0 + 12
    schedule.nothing_to_record(0, T0)  # it came early
    schedule.observe_head(101, T0 + 6)
    assert schedule.due(market(T0 + 6, block=101), "auto")  # the keeper's own clock still says T0 + 12
    schedule.nothing_to_record(0, T0 + 6)  # still nothing: someone else poked since
    assert schedule.due(market(T0 + 6 + SPACING - 7, block=102), "auto") == ""
    assert schedule.due(market(T0 + 6 + SPACING - 6, block=102), "auto")


def test_due__nothing_to_record_without_knowledge_waits_one_spacing():
    schedule = schedule_at(T0, interval=1)
    assert schedule.due(market(T0), "auto")
    schedule.nothing_to_record(0, T0)  # someone else's poke is younger than a spacing
    assert schedule.due(market(T0 + SPACING - 2), "auto") == ""
    assert schedule.due(market(T0 + SPACING - 1), "auto")


def test_due__reverted_pokes_back_off_doubling_up_to_a_bound():
    schedule = schedule_at(T0, interval=1)
    schedule.due(market(T0), "auto")
    waits = []
    for i in range(6):
        mined = T0 + 1_000 * i
        schedule.landed(0, mined, success=False)
        wait = next(w for w in range(1, 1_000) if schedule.due(market(mined + w - 1), "auto"))
        waits.append(wait)
    assert waits == [SPACING * k for k in (1, 2, 4, 8, 8, 8)]
    assert MAX_BACKOFF_SPACINGS == 8
    schedule.landed(0, T0 + 9_000, success=True)  # a success ends the back-off
    assert schedule.due(market(T0 + 9_000 + SPACING - 1), "auto")


def test_observe_head__block_interval_from_consecutive_heads():
    schedule = PokeSchedule()
    assert schedule.block_interval_s == 12  # the contract's assumption until two heads are seen
    schedule.observe_head(10, T0)
    schedule.observe_head(13, T0 + 6)
    assert schedule.block_interval_s == 2
    schedule.observe_head(13, T0 + 6)  # the same head again: unchanged
    assert schedule.block_interval_s == 2


# ---------------------------------------------------------------- depth samples alone


def test_due__depth_sample_checked_at_first_sight_then_one_interval_after_each_landed_poke():
    schedule = schedule_at(T0)
    assert schedule.due(market(T0, guarded=True), "auto") == DEPTH  # a restarted keeper does not wait 6 h
    schedule.landed(0, T0 + 12, success=True)
    due = T0 + 12 + DEPTH_SAMPLE_INTERVAL  # the contract's clock: the keeper's own sample
    assert schedule.due(market(due - SPACING - 1, guarded=True), "auto") == ""
    assert schedule.due(market(due - SPACING, guarded=True), "auto") == DEPTH  # the next block may reach it


def test_due__depth_sample_someone_else_took_is_rechecked_within_a_bounded_delay():
    schedule = schedule_at(T0)
    assert schedule.due(market(T0, guarded=True), "auto") == DEPTH
    schedule.nothing_to_record(0, T0)  # sampled less than 6 h ago, by someone: when is unknown
    assert DEPTH_RECHECK_S == 900  # a sample is then at most 15 minutes late
    assert schedule.due(market(T0 + DEPTH_RECHECK_S - SPACING - 1, guarded=True), "auto") == ""
    assert schedule.due(market(T0 + DEPTH_RECHECK_S - SPACING, guarded=True), "auto") == DEPTH


def test_due__venue_turning_into_a_guarded_one_switches_to_depth_samples():
    schedule = schedule_at(T0)
    assert schedule.due(market(T0, guarded=False), "auto") == OBSERVATION
    schedule.landed(0, T0 + 12, success=True)
    # a depth sample alone: one interval after the last poke that landed (it took a sample if one was due)
    assert schedule.due(market(T0 + 24, guarded=True), "auto") == ""
    assert schedule.due(market(T0 + 12 + DEPTH_SAMPLE_INTERVAL - SPACING, guarded=True), "auto") == DEPTH
    # and back: observations one spacing after that poke, so at once
    assert schedule.due(market(T0 + 24, guarded=False), "auto") == OBSERVATION


# ---------------------------------------------------------------- on a chain


KEEPER = 1
CRASH_CEX = [{"exchange": "binance", "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT"}]


def advance(anvil, seconds: int) -> None:
    anvil.rpc("evm_increaseTime", [seconds])
    anvil.mine()


def pokes_mined(system, sender: str) -> list[dict]:
    """Receipts of `sender`'s mined `poke` transactions to the breaker."""
    selector = bytes.fromhex(system.breaker.functions.poke(0)._encode_transaction_data()[2:10])
    out = []
    for number in range(system.w3.eth.block_number + 1):
        for tx in system.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if (
                tx["from"] == sender
                and tx["to"] == system.breaker.address
                and bytes(tx["input"])[:4] == selector
            ):
                out.append(system.w3.eth.get_transaction_receipt(tx["hash"]))
    return out


def test_poke__simulation_returning_false_is_not_sent(anvil, make_keeper):
    """Someone else poked a moment ago: `poke` would record nothing, so the keeper sends nothing."""
    system = deploy_system(anvil.w3, params={"vp_window_s": 3_600})  # spacing 150 s
    keeper = make_keeper(system, anvil.url, markets=[{"id": 0, "name": "m0", "poke": "always"}])
    advance(anvil, 200)
    system.breaker.functions.poke(0).transact({"from": system.anyone})
    before = nonce_of(system, system.keepers[0])

    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "not-due")
    assert nonce_of(system, system.keepers[0], "pending") == before
    assert keeper.metrics.value("keeper_transactions_sent_total", {"action": "poke"}) == 0
    # one spacing later the keeper simulates again, and sends
    advance(anvil, 150)
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "sent")
    keeper.cycle()  # reads the receipt: the next observation is one spacing after it
    m = keeper.cycle().markets[0]
    assert m.action is None  # no simulation either: the schedule knows the next is a spacing away
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "poke", "status": "success"}) == 1
    )
    assert keeper.metrics.value("keeper_decisions_total", {"market": "0", "action": "poke"}) == 2


def crash_pair(anvil, pair: DevPairMarket, keeper, seller: str) -> bool:
    """A calm minute of blocks, then a crash of the pair over four blocks a slot apart, the keeper
    cycling once a block; True once the market is HALTED."""
    for _ in range(4):
        advance(anvil, SPACING)
        keeper.cycle()
    for price in (0.96, 0.92, 0.88, 0.84):
        pair.sell_to(price, seller)
        advance(anvil, SPACING)
        keeper.cycle()  # what it sends is mined before the cycle returns (automine)
        if State(pair.system.breaker.functions.state(pair.market_id).call()) == State.HALTED:
            return True
    return False


def deploy_crash_scene(anvil):
    system = deploy_system(anvil.w3, markets=0)
    pair = deploy_pair_market(system, liquidity=10_000_000)
    advance(anvil, 3_600)  # the registration's observation is long out of the V_P window
    transact(system.w3, pair.feed.functions.set_answer(10**8), system.anyone)  # a fresh round
    return system, pair


def pair_keeper(make_keeper, system, pair, anvil, poke: str):
    keeper = make_keeper(
        system, anvil.url, markets=[{"id": pair.market_id, "name": "pair", "cex": CRASH_CEX, "poke": poke}]
    )
    keeper.sources = [
        cex_source(keeper.settings.markets, {"binance": recorded("binance_usde_crash", restamp=time.time)})
    ]
    return keeper


@pytest.mark.threat
def test_trip_attested__keeper_pokes_give_v_p_on_a_uniswap_v2_pair(anvil, make_keeper):
    """Finding 3 on a venue without block-start history: no replay engine, no poker but the keeper.
    Its own pokes record the pair's block-start prices, so V_P sees the crash's high and rule B trips."""
    system, pair = deploy_crash_scene(anvil)
    keeper = pair_keeper(make_keeper, system, pair, anvil, "auto")
    assert crash_pair(anvil, pair, keeper, system.anyone)

    [event] = tripped_events(system)
    assert (event.args.actor, event.args.reason) == (system.keepers[0], 2)
    assert event.args.vp_bps > 1_000 and event.args.si_bps > 500
    assert not keeper.reader._static[pair.market_id].closes_venue  # the pair keeps no block starts
    pokes = pokes_mined(system, system.keepers[0])
    assert len(pokes) >= 5 and all(r["status"] == 1 for r in pokes)  # the calm blocks and the crash's
    assert all(r["gasUsed"] <= DEFAULT_GAS[Kind.POKE] for r in pokes)  # the fallback gas limit suffices
    landed = keeper.metrics.value("keeper_transactions_landed_total", {"action": "poke", "status": "success"})
    assert landed == len(pokes)


@pytest.mark.threat
def test_trip_attested__no_rule_b_on_a_uniswap_v2_pair_without_pokes(anvil, make_keeper):
    """The same crash with `poke: never`: V_P has no high but this block's start, rule B cannot fire,
    and rule A does not hold either (selling into the pair keeps its depth near calm)."""
    system, pair = deploy_crash_scene(anvil)
    keeper = pair_keeper(make_keeper, system, pair, anvil, "never")
    assert not crash_pair(anvil, pair, keeper, system.anyone)

    assert tripped_events(system) == []
    assert pokes_mined(system, system.keepers[0]) == []
    vp = system.breaker.functions.indicators(pair.market_id).call()[6]
    assert vp == 0
    x, y = pair.reserves()
    assert y / x < 0.85  # the crash happened: only the observations were missing


# ---------------------------------------------------------------- a failing poke never stops the keeper


def failures_in_a_row(keeper, market_id: int) -> float:
    return keeper.metrics.value("keeper_poke_failures_in_a_row", {"market": str(market_id)})


def test_poke__rpc_error_is_logged_counted_and_other_markets_go_on(anvil, make_keeper, monkeypatch, caplog):
    """Every endpoint fails while market 0's poke is sent: the cycle still serves market 1, the failure is
    logged and counted in a row, and the first poke that lands clears the count."""
    system = deploy_system(anvil.w3, markets=2)
    markets = [{"id": m, "name": f"m{m}", "poke": "always"} for m in (0, 1)]
    keeper = make_keeper(system, anvil.url, markets=markets)
    advance(anvil, 30)  # past the registrations' observations: both markets have one due
    submit = keeper.executor.submit

    def market_0_unreachable(action, head_block):
        if action.market_id == 0:
            raise RpcUnavailable("every endpoint failed: connection refused")
        return submit(action, head_block)

    monkeypatch.setattr(keeper.executor, "submit", market_0_unreachable)
    for cycle in range(1, 4):
        report = keeper.cycle()
        assert report.markets[0].action.kind == Kind.POKE
        assert (report.markets[0].outcome.status, report.markets[0].outcome.detail) == (
            "error",
            "RpcUnavailable: every endpoint failed: connection refused",
        )
        assert failures_in_a_row(keeper, 0) == cycle
        advance(anvil, SPACING)
    assert [r["status"] for r in pokes_mined(system, system.keepers[0])] == [1, 1, 1]  # market 1's
    assert failures_in_a_row(keeper, 1) == 0
    failed = [r for r in caplog.records if r.getMessage() == "poke failed"]
    assert len(failed) == 3 and failed[0].exc_info and not failed[1].exc_info  # one traceback only

    monkeypatch.setattr(keeper.executor, "submit", submit)
    assert keeper.cycle().markets[0].outcome.status == "sent"
    assert failures_in_a_row(keeper, 0) == 3  # sent, not landed yet
    keeper.cycle()
    assert failures_in_a_row(keeper, 0) == 0


def test_poke__simulation_reverting_is_not_sent_and_counted(anvil, make_keeper):
    """A swap of the pair waits in the pending block: a poke behind it would revert, so none is sent and
    the failure is counted; once the swap is mined and a second has passed, the poke goes out."""
    system = deploy_system(anvil.w3, markets=0)
    pair = deploy_pair_market(system)
    advance(anvil, 60)
    keeper = pair_keeper(make_keeper, system, pair, anvil, "auto")
    keeper.sources = []
    swap = pair.swap_to(0.99, system.anyone)
    anvil.set_automine(False)
    swap.transact({"from": system.anyone})
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "reverted")
    assert "pair changed in this block" in m.outcome.detail
    assert nonce_of(system, system.keepers[0], "pending") == nonce_of(system, system.keepers[0])
    assert failures_in_a_row(keeper, 0) == 1
    assert keeper.metrics.value("keeper_simulation_reverts_total", {"action": "poke"}) == 1
    anvil.mine()
    anvil.set_automine(True)
    anvil.rpc("evm_increaseTime", [1])
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "sent")
    keeper.cycle()
    assert [r["status"] for r in pokes_mined(system, system.keepers[0])] == [1]
    assert failures_in_a_row(keeper, 0) == 0


# ---------------------------------------------------------------- pokes never hold up a trip, never loop


GWEI = 10**9


def test_poke__urgent_action_takes_over_a_pending_pokes_nonce(anvil, system, make_keeper):
    """A poke is priced low and may wait in the pool: a trip must not queue behind it. The trip is
    signed at the poke's nonce, priced to replace it: one transaction, the trip's."""
    system.move(0, price=0.85, slippage_bps=800)  # V_P and S_I hold on-chain; no LCE yet: no rule B
    advance(anvil, 30)  # past the registration's observation: a poke would record one
    markets = [{"id": 0, "name": "usde", "cex": CRASH_CEX, "poke": "always"}]
    keeper = make_keeper(system, anvil.url, markets=markets)
    keeper_address = system.keepers[0]
    anvil.set_automine(False)
    first = keeper.cycle().markets[0]
    assert (first.action.kind, first.outcome.status) == (Kind.POKE, "sent")
    nonce = nonce_of(system, keeper_address)

    keeper.sources = [
        cex_source(keeper.settings.markets, {"binance": recorded("binance_usde_crash", restamp=time.time)})
    ]
    trip = keeper.cycle().markets[0]
    assert (trip.action.kind, trip.outcome.status) == (Kind.TRIP_ATTESTED, "sent")
    assert nonce_of(system, keeper_address, "pending") == nonce + 1  # one transaction at the poke's nonce
    anvil.mine()
    report = keeper.cycle()
    assert [(rec.kind, rec.nonce, receipt["status"]) for rec, receipt in report.landed] == [
        ("trip_attested", nonce, 1)
    ]
    [event] = tripped_events(system)
    assert (event.args.actor, event.args.reason, event.args.vp_bps) == (keeper_address, 2, 1_500)
    assert system.w3.eth.get_transaction_count(keeper_address) == nonce + 1
    landed = keeper.metrics.value("keeper_transactions_landed_total", {"action": "poke", "status": "success"})
    assert landed == 0


def test_poke__mined_after_a_swap_in_its_block_reverts_once_and_backs_off(anvil, make_keeper):
    """A pair that trades earlier in the poke's block makes its settled views revert: the poke is mined
    reverted. The keeper neither cancels nor re-sends it in a loop: it waits a spacing, then pokes."""
    system = deploy_system(anvil.w3, markets=0)
    pair = deploy_pair_market(system)
    advance(anvil, 60)
    keeper = pair_keeper(make_keeper, system, pair, anvil, "auto")
    keeper.sources = []
    swap = pair.swap_to(0.99, system.anyone)  # paid in, not swapped yet
    anvil.set_automine(False)
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "sent")
    swap.transact({"from": system.anyone, "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": 10 * GWEI})
    anvil.mine()  # the swap pays more: first in the block, and the poke after it reverts
    anvil.set_automine(True)
    # A second on, as any next block is: the market is read as the next block sees it (its views refuse
    # the head, in which the pair traded).
    anvil.rpc("evm_increaseTime", [1])

    after = keeper.cycle()
    assert [(rec.kind, receipt["status"]) for rec, receipt in after.landed] == [("poke", 0)]
    assert after.markets[0].action is None  # backing off: not sent again in the next block
    assert keeper.cycle().markets[0].action is None
    advance(anvil, SPACING)
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.POKE, "sent")
    keeper.cycle()
    assert [r["status"] for r in pokes_mined(system, system.keepers[0])] == [0, 1]
    assert keeper.metrics.value("keeper_transactions_replaced_total", {"action": "poke"}) == 0


def test_journal__a_nonce_taken_over_reports_the_poke_if_the_poke_is_mined():
    rec = InFlight(0, "trip_attested", [0, 20_000], 7, 400_000, 10, 2, ["0xp", "0xt"], "0x", 5, 6)
    rec.earlier["0xp"] = [3, "poke", [3], ""]
    poke = rec.mined_as("0xp")
    assert (poke.market_id, poke.kind, poke.args, poke.nonce) == (3, "poke", [3], 7)
    assert rec.mined_as("0xt") is rec


def _poke_record(market_id: int, nonce: int, cancel: bool = False) -> InFlight:
    return InFlight(market_id, "poke", [market_id], nonce, 150_000, 10, 2, ["0xp"], "0x", 5, 5, cancel=cancel)


@pytest.mark.parametrize("kind", [Kind.TRIP_ATTESTED, Kind.RESUME, Kind.SYNC, Kind.EXTEND_HALT])
@pytest.mark.parametrize("cancel", [False, True])
def test_poke__any_other_action_takes_over_the_oldest_pending_poke(kind, cancel):
    """Not only a trip: a resume or sync queued behind a low-priced poke would wait too. A poke record
    marked for cancelling by an older keeper is still a poke."""
    journal = SimpleNamespace(items={8: _poke_record(1, 8, cancel), 7: _poke_record(3, 7, cancel)})
    sender = SimpleNamespace(journal=journal)
    taken = Sender._poke_to_displace(sender, Action(kind, 0), None)  # type: ignore[arg-type]
    assert taken is not None and taken.nonce == 7
    # the oldest even when the market has its own poke in flight: the action would queue behind it
    own = journal.items[8]
    assert Sender._poke_to_displace(sender, Action(kind, 1), own) is journal.items[7]  # type: ignore[arg-type]


def test_poke__a_poke_takes_over_nothing():
    journal = SimpleNamespace(items={7: _poke_record(3, 7)})
    sender = SimpleNamespace(journal=journal)
    assert Sender._poke_to_displace(sender, Action(Kind.POKE, 0), None) is None  # type: ignore[arg-type]


def test_poke__a_market_with_a_trip_in_flight_takes_over_no_poke():
    trip = InFlight(0, "trip_attested", [0, 20_000], 9, 400_000, 10, 2, ["0xt"], "0x", 5, 5)
    sender = SimpleNamespace(journal=SimpleNamespace(items={7: _poke_record(3, 7), 9: trip}))
    assert Sender._poke_to_displace(sender, Action(Kind.RESUME, 0), trip) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("output", "sent"),
    [((1).to_bytes(32, "big"), True), (bytes(32), False), (b"", False), ((2).to_bytes(32, "big"), False)],
)
def test_poke__sent_only_on_an_abi_true(output, sent):
    """Empty or malformed return data is no promise that the poke records anything."""
    assert Simulation(output=output).returned_true is sent


def test_poke__stuck_poke_is_left_at_its_price():
    """Never re-priced: it stays under poke_max_fee_gwei and keeps its nonce's replacement room for the
    action that takes it over."""
    rec = _poke_record(0, 7)
    put: list[InFlight] = []
    sender = SimpleNamespace(journal=SimpleNamespace(put=put.append))
    Sender._replace(sender, rec, 42)  # type: ignore[arg-type]
    assert put == [rec]
    assert (rec.sent_block, rec.hashes, rec.max_fee, rec.replacements) == (42, ["0xp"], 10, 0)
    assert not rec.cancel


def test_cycle__a_market_unreadable_at_head_and_pending_is_skipped_and_the_others_go_on(anvil, make_keeper):
    """A pair changed in the head block and again in the pending one (a griefer trading it in every
    block): the breaker's views of its market revert at both, so that market is skipped for the cycle,
    counted and logged, and the market beside it is still decided. It reads again once the pair rests."""
    system = deploy_system(anvil.w3, markets=1)
    pair = deploy_pair_market(system)
    advance(anvil, 60)
    markets = [
        {"id": 0, "name": "usde", "cex": CRASH_CEX, "poke": "never"},
        {"id": pair.market_id, "name": "pair", "cex": CRASH_CEX, "poke": "never"},
    ]
    keeper = make_keeper(system, anvil.url, markets=markets)
    keeper.sources = []
    unreadable = {"market": str(pair.market_id)}
    transact(system.w3, pair.pair.functions.sync(), system.anyone)  # the head: the pair changed in it
    anvil.set_automine(False)
    pair.pair.functions.sync().transact(
        {"from": system.anyone, "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": 10 * GWEI}
    )  # and in the pending block

    report = keeper.cycle()
    assert [m.market_id for m in report.markets] == [0]
    assert list(report.unreadable) == [pair.market_id]
    assert keeper.metrics.value("keeper_market_unreadable_in_a_row", unreadable) == 1

    anvil.mine()  # the pending sync lands; nothing is pending any more
    anvil.set_automine(True)
    anvil.rpc("evm_increaseTime", [1])  # as any next block is
    report = keeper.cycle()
    assert [m.market_id for m in report.markets] == [0, pair.market_id]
    assert report.unreadable == {}
    assert keeper.metrics.value("keeper_market_unreadable_in_a_row", unreadable) == 0
