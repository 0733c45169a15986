"""Getting transactions in: congestion, stuck transactions, nonces, RPC failover, private relay,
restarts and races. Chains with automine off are mined by the test, one block at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from web3.exceptions import TransactionNotFound

from devchain import Crowd, DevSystem, deploy_system, dev_key
from keeper.model import Kind, State
from tests.keeper.conftest import GWEI, nonce_of, tripped_events

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def system(anvil) -> DevSystem:
    """These tests are about the transaction path, not rule A's hold: it is set to its minimum (the
    arm's block start and the confirmation's), so their block counts start at the crash."""
    return deploy_system(anvil.w3, markets=1, keepers=2, params={"hold_blocks": 2})


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


def head(anvil) -> int:
    return anvil.w3.eth.block_number


def receipt_or_none(anvil):
    def get(tx_hash):
        try:
            return anvil.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    return get


def arm_landed(anvil, system, keeper) -> None:
    """Crash the venue and let the keeper's arm land (automine on)."""
    system.crash(0)
    report = keeper.cycle()
    assert report.markets[0].action.kind == Kind.ARM_TRIP
    keeper.executor.tick(head(anvil))
    assert not keeper.executor.journal.items


@pytest.mark.fault
def test_congestion__trip_lands_in_the_next_block(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, fees={"reward_percentile": 75, "urgency_trip": 2.0})
    arm_landed(anvil, system, keeper)

    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])  # ~47 transfers a block
    crowd = Crowd(anvil)
    base = 1 * GWEI
    for _ in range(2):  # congested history, so eth_feeHistory sees a real fee market
        anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
        crowd.send(60, base)
        anvil.mine()
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
    crowd.send(120, base)
    status = anvil.rpc("txpool_status")
    waiting = int(status["pending"], 16)
    assert waiting >= 120 and waiting * 21_000 > 1_000_000

    report = keeper.cycle()
    assert report.markets[0].action.kind == Kind.TRIP and report.markets[0].outcome.status == "sent"
    sent_at = report.block
    anvil.mine()
    receipt = anvil.w3.eth.get_transaction_receipt(report.markets[0].outcome.tx_hash)
    assert receipt.status == 1 and receipt.blockNumber == sent_at + 1
    assert state_of(system) == State.HALTED
    left = anvil.rpc("txpool_status")
    assert int(left["pending"], 16) > 0  # the block was full: competitors are still waiting


def congest(anvil):
    """Automine off, 1M block gas limit, and a crowd of users outbidding a calm-market keeper."""
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    return Crowd(anvil, tip_median_gwei=5)


@pytest.mark.fault
def test_stuck__replaced_with_both_fees_raised(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, fees={"replace_after_blocks": 2, "bump_percent": 12})
    crowd = congest(anvil)
    for fn in (
        system.markets[0].venue.functions.set_price(9 * 10**17),
        system.markets[0].venue.functions.set_depth(8 * 10**23),
    ):
        fn.transact({"from": system.anyone, "gas": 100_000})
    anvil.mine(2)  # the crash's block, then one that opens with it (the breaker reads block starts)

    report = keeper.cycle()  # arm priced from a calm fee history
    assert report.markets[0].outcome.status == "sent"
    rec = keeper.executor.journal.items[0]
    old_fee, old_tip, first_hash = rec.max_fee, rec.priority, rec.hashes[0]
    base = anvil.w3.eth.get_block("latest").baseFeePerGas
    for _ in range(2):  # the crowd outbids it for two blocks
        crowd.send(60, base)
        anvil.mine()
        assert anvil.w3.eth.get_transaction(first_hash).blockNumber is None
        keeper.cycle()
    rec = keeper.executor.journal.items[0]
    assert rec.replacements == 1 and len(rec.hashes) == 2 and rec.nonce == 0
    assert rec.max_fee >= old_fee * 1.12 and rec.priority >= old_tip * 1.12
    assert keeper.metrics.value("keeper_transactions_replaced_total", {"action": "arm_trip"}) == 1
    pool = anvil.rpc("txpool_content")["pending"][system.keepers[0].lower()]
    assert list(pool) == ["0"] and pool["0"]["hash"] == rec.hashes[1]  # the node took the replacement

    for _ in range(6):  # the crowd keeps coming; the keeper keeps re-pricing until it gets in
        crowd.send(60, base)
        anvil.mine()
        keeper.cycle()
        if 0 not in keeper.executor.journal.items:
            break
    receipts = [r for r in map(receipt_or_none(anvil), rec.hashes) if r is not None]
    assert len(receipts) == 1 and receipts[0].transactionHash.to_0x_hex() != first_hash
    mined = receipts[0]
    assert mined.status == 1
    assert system.breaker.functions.status(0).call()[6] == mined.blockNumber
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "arm_trip", "status": "success"})
        == 1
    )


@pytest.mark.fault
def test_stuck__cancelled_when_someone_else_did_it(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, fees={"replace_after_blocks": 1})
    arm_landed(anvil, system, keeper)
    crowd = congest(anvil)
    base = anvil.w3.eth.get_block("latest").baseFeePerGas
    report = keeper.cycle()  # trip sent, then outbid
    assert report.markets[0].outcome.status == "sent"
    crowd.send(60, base)
    system.breaker.functions.trip(0).transact(
        {
            "from": system.anyone,
            "gas": 500_000,
            "maxFeePerGas": 2_000 * GWEI,
            "maxPriorityFeePerGas": 50 * GWEI,
        }
    )
    anvil.mine()
    assert len(tripped_events(system)) == 1  # someone else's trip landed; ours is still waiting
    keeper.cycle()  # `trip` would now revert: replaced by a zero-value self-transfer
    rec = keeper.executor.journal.items[1]
    assert rec.cancel and rec.gas == 21_000 and rec.replacements == 1
    for _ in range(3):
        anvil.mine()
        keeper.cycle()
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "cancel", "status": "success"})
        == 1
    )
    assert len(tripped_events(system)) == 1 and not keeper.executor.journal.items


@pytest.mark.fault
def test_nonce__too_low_reconciled(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    arm_landed(anvil, system, keeper)
    me = system.keepers[0]
    anvil.w3.eth.send_transaction(
        {"from": me, "to": me, "value": 0}
    )  # same key used elsewhere: nonce 1 taken
    report = keeper.cycle()
    assert report.markets[0].outcome.status == "sent"
    assert keeper.executor.journal.items[2].kind == "trip"
    assert state_of(system) == State.HALTED


@pytest.mark.fault
def test_nonce__underpriced_by_unknown_pending_tx_reconciled(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    arm_landed(anvil, system, keeper)
    anvil.set_automine(False)
    me = system.keepers[0]
    anvil.w3.eth.send_transaction(
        {
            "from": me,
            "to": me,
            "value": 0,
            "nonce": 1,
            "gas": 21_000,
            "maxFeePerGas": 500 * GWEI,
            "maxPriorityFeePerGas": 100 * GWEI,
        }
    )
    keeper.executor._next_nonce = 1  # as if we had not seen it
    report = keeper.cycle()
    assert report.markets[0].outcome.status == "sent"
    assert list(keeper.executor.journal.items) == [2]
    anvil.mine()
    assert state_of(system) == State.HALTED


@pytest.mark.fault
def test_nonce__gap_from_dropped_transaction_rebroadcast(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    anvil.set_automine(False)
    system.markets[0].venue.functions.set_price(9 * 10**17).transact({"from": system.anyone, "gas": 100_000})
    system.markets[0].venue.functions.set_depth(8 * 10**23).transact({"from": system.anyone, "gas": 100_000})
    anvil.mine(2)  # the crash's block, then one that opens with it (the breaker reads block starts)
    keeper.cycle()
    rec = keeper.executor.journal.items[0]
    anvil.rpc("anvil_dropTransaction", [rec.hashes[-1]])  # the node forgot it (restart, eviction)
    assert anvil.rpc("txpool_status")["pending"] == "0x0"
    keeper.cycle()  # unknown to the node: re-broadcast
    assert anvil.rpc("txpool_status")["pending"] == "0x1"
    anvil.mine()
    keeper.cycle()
    assert 0 not in keeper.executor.journal.items  # the arm landed (the trip may be on its way)
    assert system.breaker.functions.status(0).call()[6] > 0 or state_of(system) == State.HALTED


@pytest.mark.fault
def test_nonce__already_known_is_success(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    anvil.set_automine(False)
    for fn in (
        system.markets[0].venue.functions.set_price(9 * 10**17),
        system.markets[0].venue.functions.set_depth(8 * 10**23),
    ):
        fn.transact({"from": system.anyone, "gas": 100_000})
    anvil.mine(2)  # the crash's block, then one that opens with it (the breaker reads block starts)
    keeper.cycle()
    rec = keeper.executor.journal.items[0]
    keeper.executor._broadcast(rec.raw)  # same bytes again: "already known", not an error
    assert anvil.rpc("txpool_status")["pending"] == "0x1"


@pytest.mark.fault
def test_failover__primary_rpc_dies_mid_run(anvil, system, make_keeper, rpc_proxy):
    primary = rpc_proxy(anvil.url)
    keeper = make_keeper(system, [primary.url, anvil.url], poll_interval_s=0.05, idle_cycle_s=0.2)
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while keeper.cycles < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.cycles >= 2 and "eth_call" in primary.methods
        primary.kill()
        system.crash(0)
        deadline = time.monotonic() + 20
        while state_of(system) != State.HALTED and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(10)
    assert state_of(system) == State.HALTED
    assert keeper.metrics.value("keeper_rpc_errors_total", {"endpoint": "rpc0"}) >= 1
    assert keeper.pool.current.name == "rpc1"
    assert keeper.metrics.value("keeper_cycle_errors_total") == 0  # failover inside the cycle, no lost cycle


@pytest.mark.fault
def test_failover__all_endpoints_down_is_a_failed_cycle_not_a_crash(anvil, system, make_keeper, rpc_proxy):
    proxy = rpc_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url], poll_interval_s=0.01)
    proxy.kill()
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    runner.start()
    time.sleep(0.5)
    stop.set()
    runner.join(10)
    assert not runner.is_alive() and keeper.metrics.value("keeper_cycle_errors_total") >= 1
    ok, info = keeper.health()
    assert not ok and info["last_cycle_age_s"] is None


def test_relay__transactions_go_only_to_the_private_relay(anvil, system, make_keeper, rpc_proxy):
    public, relay = rpc_proxy(anvil.url), rpc_proxy(anvil.url)
    keeper = make_keeper(system, public.url, private_relay_url=relay.url)
    system.crash(0)
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED
    assert relay.methods.count("eth_sendRawTransaction") == 2
    assert "eth_sendRawTransaction" not in public.methods
    assert set(relay.methods) == {"eth_sendRawTransaction"}  # reads never go to the relay


@pytest.mark.fault
def test_relay__down_falls_back_only_when_allowed(anvil, system, make_keeper, rpc_proxy):
    public, relay = rpc_proxy(anvil.url), rpc_proxy(anvil.url)
    relay.kill()
    strict = make_keeper(system, public.url, private_relay_url=relay.url)
    system.crash(0)
    assert strict.cycle().markets[0].outcome.status == "failed"
    assert "eth_sendRawTransaction" not in public.methods and nonce_of(system, system.keepers[0]) == 0
    loose = make_keeper(
        system, public.url, key_index=2, private_relay_url=relay.url, relay_fallback_public=True
    )
    assert loose.cycle().markets[0].outcome.status == "sent"
    assert "eth_sendRawTransaction" in public.methods


@pytest.mark.fault
def test_race__two_keepers_only_one_lands(anvil, system, make_keeper):
    first, second = make_keeper(system, anvil.url, 1), make_keeper(system, anvil.url, 2)
    anvil.set_automine(False)
    for fn in (
        system.markets[0].venue.functions.set_price(9 * 10**17),
        system.markets[0].venue.functions.set_depth(8 * 10**23),
    ):
        fn.transact({"from": system.anyone, "gas": 100_000})
    anvil.mine(2)  # the crash's block, then one that opens with it (the breaker reads block starts)
    outcomes = []
    for _ in range(3):  # both decide on the same block; the second simulates against the pending state
        outcomes.append((first.cycle().markets[0].outcome, second.cycle().markets[0].outcome))
        anvil.mine()
    first.cycle(), second.cycle()
    statuses = [(a.status if a else None, b.status if b else None) for a, b in outcomes]
    assert statuses[0] == ("sent", "reverted") and statuses[1] == ("sent", "reverted")
    assert outcomes[0][1].detail == "CircuitBreaker: already armed"
    assert outcomes[1][1].detail == "CircuitBreaker: market is halted"
    assert len(tripped_events(system)) == 1
    assert nonce_of(system, system.keepers[1]) == 0  # the second keeper never sent anything
    assert (
        first.metrics.value("keeper_transactions_landed_total", {"action": "trip", "status": "success"}) == 1
    )


@pytest.mark.fault
def test_restart__pending_trip_adopted_not_duplicated(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    arm_landed(anvil, system, keeper)
    anvil.set_automine(False)
    assert keeper.cycle().markets[0].outcome.status == "sent"  # trip pending
    keeper.close()  # killed with the trip still in the mempool: the kernel drops a dead process's lock
    del keeper

    restarted = make_keeper(system, anvil.url)  # same key, same state_dir: the journal is adopted
    assert list(restarted.executor.journal.items) == [1]
    report = restarted.cycle()
    assert report.markets[0].outcome.status == "in-flight"
    assert anvil.rpc("txpool_status")["pending"] == "0x1"
    anvil.mine()
    restarted.cycle()
    assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
    assert nonce_of(system, system.keepers[0]) == 2


@pytest.mark.fault
def test_restart__lost_journal_still_no_duplicate(anvil, system, make_keeper, tmp_path):
    keeper = make_keeper(system, anvil.url)
    arm_landed(anvil, system, keeper)
    anvil.set_automine(False)
    keeper.cycle()  # trip pending
    fresh = make_keeper(system, anvil.url, state_dir=str(tmp_path / "elsewhere"))
    outcome = fresh.cycle().markets[0].outcome
    assert outcome.status == "reverted" and outcome.detail == "CircuitBreaker: market is halted"
    anvil.mine()
    assert len(tripped_events(system)) == 1 and nonce_of(system, system.keepers[0]) == 2


def _spawn(config: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "keeper", "--config", str(config), "run", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.fault
def test_restart__process_killed_mid_halt_sends_nothing_new(anvil, system, tmp_path):
    config = tmp_path / "keeper.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "breaker": system.breaker.address,
                "rpc_urls": [anvil.url],
                "metrics_port": 0,
                "markets": [{"id": 0, "name": "usde"}],
                "poll_interval_s": 0.1,
                "idle_cycle_s": 0.2,
                "state_dir": str(tmp_path / "state"),
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env["KEEPER_PRIVATE_KEY"] = dev_key(1)
    proc = _spawn(config, env)
    try:
        system.crash(0)
        deadline = time.monotonic() + 30
        while state_of(system) != State.HALTED and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_of(system) == State.HALTED, proc.stderr.read().decode()[-2000:] if proc.poll() else ""
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # crash, no clean shutdown
        proc.wait(10)
    sent = nonce_of(system, system.keepers[0])
    assert sent == 2

    again = _spawn(config, env, "--max-cycles", "5")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()[-2000:]
    assert nonce_of(system, system.keepers[0]) == sent and len(tripped_events(system)) == 1
    assert b'"msg": "keeper ready"' in err and b"transaction sent" not in err
