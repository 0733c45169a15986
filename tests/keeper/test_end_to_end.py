"""The keeper against real contracts on anvil: trips, resumes, extensions, dry run, bad data."""

from __future__ import annotations

import time

import pytest

from keeper.model import Kind, State
from tests.keeper.conftest import cex_source, nonce_of, recorded, tripped_events

KEEPER = 1


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


def cycle_until(keeper, predicate, cycles=6):
    for _ in range(cycles):
        keeper.cycle()
        if predicate():
            return True
    return False


def advance(anvil, seconds: int) -> None:
    anvil.rpc("evm_increaseTime", [seconds])
    anvil.mine()


def crash_sources(system, keeper_market_settings):
    """The Binance crash recording, re-dated to now (fresh), as the keeper's CEX source."""
    return [
        cex_source(keeper_market_settings, {"binance": recorded("binance_usde_crash", restamp=time.time)})
    ]


CRASH_CEX = [{"exchange": "binance", "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT"}]


def test_trip_and_resume__rule_a_lands_end_to_end(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    assert keeper.cycle().markets[0].action is None  # calm: nothing to do

    system.crash(0)  # venue 10% below the reference, depth at 10% of calm
    kinds = []
    for _ in range(4):
        report = keeper.cycle()
        kinds += [m.action.kind for m in report.markets if m.action]
        if state_of(system) == State.HALTED:
            break
    assert kinds == [Kind.ARM_TRIP, Kind.TRIP]
    [event] = tripped_events(system)
    assert (event.args.actor, event.args.reason, event.args.cvd_bps, event.args.rl_bps) == (
        system.keepers[0],
        1,
        1_000,
        1_000,
    )

    system.move(0, price=1.0, depth_ratio=1.0)  # recovered, but the halt window is not over
    keeper.cycle()
    assert state_of(system) == State.HALTED

    advance(anvil, 360)  # N = max(300, 12) + 60
    assert cycle_until(keeper, lambda: state_of(system) == State.COOLDOWN)
    [resumed] = system.breaker.events.MarketResumed().get_logs(from_block=0)
    assert (resumed.args.actor, resumed.args.reason) == (system.keepers[0], 4)

    advance(anvil, 361)  # cool-down and auction elapse: the keeper stores it (`sync`) so consumers reopen
    assert State(system.breaker.functions.status(0).call()[0]) == State.COOLDOWN
    assert cycle_until(keeper, lambda: State(system.breaker.functions.status(0).call()[0]) == State.NORMAL)
    keeper.cycle()  # the next cycle reads the receipt
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "sync", "status": "success"}) == 1
    )
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "trip", "status": "success"}) == 1
    )


def test_trip_attested__rule_b_with_open_interest_from_cex(anvil, system, make_keeper):
    # on-chain: a 15% drop inside the V_P window and 8% slippage; depth untouched, so rule A does not hold
    system.move(0, price=0.85, slippage_bps=800)
    keeper = make_keeper(system, anvil.url, markets=[{"id": 0, "name": "usde", "cex": CRASH_CEX}])
    keeper.sources = crash_sources(system, keeper.settings.markets)
    report = keeper.cycle()
    m = report.markets[0]
    assert m.action.kind == Kind.TRIP_ATTESTED and m.outcome.status == "sent"
    assert m.keeper.lce_bps > 10_000  # 15% of ~$380M open interest against ~$8M of depth
    assert state_of(system) == State.HALTED
    [event] = tripped_events(system)
    assert (event.args.reason, event.args.vp_bps, event.args.si_bps) == (2, 1_500, 800)
    assert event.args.lce_bps == m.action.lce_bps


@pytest.mark.threat
def test_trip_attested__multi_block_crash_without_pokes_or_replay(anvil, system, make_keeper):
    """Finding 3: nobody pokes the breaker (no replay engine, no poker). The registration's
    observation is long out of the V_P window; the crash unfolds over several blocks and the
    venue's own block-start history gives V_P its high, so the keeper's real cycle trips by rule B."""
    advance(anvil, 3_600)
    system.refresh_feeds()
    for price in (0.97, 0.93, 0.89):
        system.move(0, price=price)
    system.move(0, price=0.85, slippage_bps=800)
    keeper = make_keeper(system, anvil.url, markets=[{"id": 0, "name": "usde", "cex": CRASH_CEX}])
    keeper.sources = crash_sources(system, keeper.settings.markets)
    assert cycle_until(keeper, lambda: state_of(system) == State.HALTED, cycles=3)
    [event] = tripped_events(system)
    assert (event.args.actor, event.args.reason, event.args.vp_bps, event.args.si_bps) == (
        system.keepers[0],
        2,
        1_500,
        800,
    )


def test_extend__while_lce_critical(anvil, system, make_keeper):
    system.move(0, price=0.85, slippage_bps=800)
    keeper = make_keeper(system, anvil.url, markets=[{"id": 0, "name": "usde", "cex": CRASH_CEX}])
    keeper.sources = crash_sources(system, keeper.settings.markets)
    keeper.cycle()
    assert state_of(system) == State.HALTED
    resume_after = system.breaker.functions.status(0).call()[2]

    keeper.cycle()  # far from the end of the window: nothing
    advance(anvil, 340)  # within extend_lead_s (30 s) of the end
    report = keeper.cycle()
    assert report.markets[0].action.kind == Kind.EXTEND_HALT
    [ext] = system.breaker.events.HaltExtended().get_logs(from_block=0)
    assert ext.args.old_resume_after == resume_after and ext.args.new_resume_after > resume_after
    assert ext.args.reason == 9

    system.move(0, price=1.0, slippage_bps=0)  # on-chain recovery does not resume while LCE is critical
    advance(anvil, 400)
    kinds = [m.action.kind for _ in range(3) for m in keeper.cycle().markets if m.action]
    assert Kind.ARM_RESUME not in kinds and state_of(system) == State.HALTED


def test_dry_run__decides_and_simulates_never_sends(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, dry_run=True)
    system.crash(0)
    report = keeper.cycle()
    assert report.markets[0].action.kind == Kind.ARM_TRIP
    assert report.markets[0].outcome.status == "dry-run"
    assert nonce_of(system, system.keepers[0]) == 0 and state_of(system) == State.NORMAL
    assert keeper.metrics.value("keeper_dry_run_actions_total", {"action": "arm_trip"}) == 1


def test_dry_run__without_key_simulates_as_from_address(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, dry_run=True, private_key=None, from_address=system.anyone)
    system.crash(0)
    assert keeper.cycle().markets[0].outcome.status == "dry-run"


@pytest.mark.fault
def test_simulation_revert__not_sent_and_reason_logged(anvil, system, make_keeper, caplog):
    keeper = make_keeper(system, anvil.url)
    system.crash(0)
    keeper.cycle()  # arm lands
    # someone else trips first
    system.breaker.functions.trip(0).transact({"from": system.anyone, "gas": 500_000})
    from keeper.model import Action

    block = keeper.pool.w3.eth.block_number
    keeper.executor.tick(block)  # settles the arm
    outcome = keeper.executor.submit(Action(Kind.TRIP, 0), block)
    assert outcome.status == "reverted" and outcome.detail == "CircuitBreaker: market is halted"
    assert nonce_of(system, system.keepers[0]) == 1


@pytest.mark.threat
@pytest.mark.fault
def test_bad_data__never_trips_by_itself(anvil, system, make_keeper):
    market = [
        {
            "id": 0,
            "name": "usde",
            "cex": [
                {"exchange": e, "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT", "calm_depth_usd": 4e6}
                for e in ("binance", "bybit", "okx")
            ],
        }
    ]
    keeper = make_keeper(system, anvil.url, markets=market)

    # 1. one broken venue among good ones, on-chain calm
    keeper.sources = [
        cex_source(
            keeper.settings.markets,
            {
                "binance": recorded("binance_usde_calm", time.time),
                "bybit": recorded("bybit_usde_calm", time.time),
                "okx": recorded("okx_usde_broken", time.time),
            },
        )
    ]
    for _ in range(3):
        assert keeper.cycle().markets[0].action is None
    assert keeper.metrics.value("keeper_data_rejected_total", {"market": "0", "source": "okx:USDE/USDT"}) == 3

    # 2. a crash-looking (fresh) recording everywhere, but the chain is calm: LCE critical alone is no trip
    keeper.sources = crash_sources(system, keeper.settings.markets)
    for _ in range(3):
        report = keeper.cycle()
        assert report.markets[0].keeper.lce_bps > 10_000 and report.markets[0].action is None

    # 3. on-chain V_P and S_I hold, but the off-chain data is stale: LCE unknown, no attestation
    system.move(0, price=0.85, slippage_bps=800)
    keeper.sources = [cex_source(keeper.settings.markets, {"binance": recorded("binance_usde_crash")})]
    for _ in range(3):
        report = keeper.cycle()
        assert report.markets[0].keeper.lce_bps is None and report.markets[0].action is None
    assert tripped_events(system) == [] and nonce_of(system, system.keepers[0]) == 0
