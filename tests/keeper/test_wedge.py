"""A transaction path that cannot wedge: a pending nonce nobody journaled, a crash between broadcast and
journal, two processes on one key, a node refusing the `pending` tag, and someone else's arm parked in
the mempool. Chains run with automine off and are mined by the test, one block at a time, under a crowd
of better-paying users."""

from __future__ import annotations

import json
import logging

import pytest
from eth_account import Account

from devchain import Crowd, DevSystem, deploy_system, dev_key
from keeper.executor import Outcome
from keeper.journal import StateDirLocked
from keeper.model import Action, Kind, State
from tests.keeper.conftest import GWEI, nonce_of, tripped_events
from tests.keeper.test_faults import fault_proxy  # noqa: F401 - fixture

BLOCKS = 8  # far above the goal (3): on a wedged keeper nothing lands however long the test waits


@pytest.fixture
def system(anvil) -> DevSystem:
    """These tests are about the transaction path, not rule A's hold: it is set to its minimum (the
    arm's block start and the confirmation's), so their block counts start at the crash."""
    return deploy_system(anvil.w3, markets=1, keepers=2, params={"hold_blocks": 2})


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


def congest(anvil) -> Crowd:
    """Automine off, ~47 transfers a block, and two full blocks of history so the fee market is real."""
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    crowd = Crowd(anvil, tip_median_gwei=5)
    for _ in range(2):
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()
    return crowd


def crash_mined(anvil, system) -> None:
    for fn in (
        system.markets[0].venue.functions.set_price(9 * 10**17),
        system.markets[0].venue.functions.set_depth(8 * 10**23),
    ):
        fn.transact(
            {
                "from": system.anyone,
                "gas": 100_000,
                "maxFeePerGas": 1_000 * GWEI,
                "maxPriorityFeePerGas": 100 * GWEI,
            }
        )
    anvil.mine(
        2
    )  # the crash's block, then one that opens on it: the breaker reads a venue as its block opened


def park_at_keepers_nonce(anvil, key: str, nonce: int) -> str:
    """A zero-tip self-transfer signed with the keeper's key (the key used elsewhere, or a send whose journal
    entry was lost): valid for many blocks, outbid by every user of a congested chain."""
    acct = Account.from_key(key)
    base = anvil.w3.eth.get_block("latest").baseFeePerGas
    signed = acct.sign_transaction(
        {
            "to": acct.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            "chainId": 31337,
            "type": 2,
            "maxFeePerGas": 4 * base,
            "maxPriorityFeePerGas": 0,
        }
    )
    return anvil.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def blocks_until_halted(anvil, system, keeper, crowd) -> int | None:
    """Cycles the keeper and mines one congested block at a time; the number of blocks the trip needed."""
    for mined in range(1, BLOCKS + 1):
        keeper.cycle()
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()
        if state_of(system) == State.HALTED:
            return mined
    return None


def test_unknown_pending_nonce__swept_and_the_trip_lands_within_three_blocks(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    crowd = congest(anvil)
    crash_mined(anvil, system)
    stuck = park_at_keepers_nonce(anvil, dev_key(1), 0)
    me = system.keepers[0]
    assert (nonce_of(system, me), nonce_of(system, me, "pending")) == (0, 1)

    blocks = blocks_until_halted(anvil, system, keeper, crowd)

    assert blocks is not None and blocks <= 3, f"not halted after {BLOCKS} blocks: wedged behind nonce 0"
    mined0 = [
        r
        for r in (anvil.w3.eth.get_block(b, True) for b in range(anvil.w3.eth.block_number + 1))
        for r in r.transactions
        if r["from"] == me and r["nonce"] == 0
    ]
    assert len(mined0) == 1 and mined0[0]["hash"].to_0x_hex() != stuck  # our cancel took nonce 0
    assert mined0[0]["to"] == me and mined0[0]["value"] == 0 and mined0[0]["input"] in (b"", "0x")
    assert keeper.metrics.value("keeper_nonces_swept_total") == 1
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "cancel", "status": "success"})
        == 1
    )
    keeper.executor.tick(anvil.w3.eth.block_number)
    assert len(tripped_events(system)) == 1 and not keeper.executor.journal.items


def test_unknown_pending_nonce__given_one_block_before_it_is_swept(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    anvil.set_automine(False)
    park_at_keepers_nonce(anvil, dev_key(1), 0)
    keeper.cycle()  # seen, not yet swept: it may be a legitimate transaction about to land
    assert keeper.metrics.value("keeper_unknown_pending_nonces") == 1
    assert keeper.metrics.value("keeper_nonces_swept_total") == 0 and not keeper.executor.journal.items


def test_send__journaled_and_fsynced_before_broadcast(anvil, system, make_keeper, fault_proxy):  # noqa: F811
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url])
    journal = keeper.executor.journal.path
    seen_on_disk: list[list[str]] = []

    def snapshot(method, params, in_batch):
        if method == "eth_sendRawTransaction":
            records = json.loads(journal.read_text()) if journal.is_file() else []
            seen_on_disk.append([r["raw"] for r in records])

    proxy.fault = snapshot
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "sent"
    raw = keeper.executor.journal.items.get(0).raw if 0 in keeper.executor.journal.items else None
    if raw is None:  # automine: the arm already landed and left the journal
        raw = "0x" + anvil.w3.eth.get_raw_transaction(outcome.tx_hash).hex().removeprefix("0x")
    assert seen_on_disk and raw in seen_on_disk[0]  # on disk when the node first saw the bytes


def test_send__answer_lost_stays_journaled_and_lands_once(anvil, system, make_keeper, fault_proxy):  # noqa: F811
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url])
    anvil.set_automine(False)
    crash_mined(anvil, system)
    proxy.fault = lambda method, params, in_batch: (
        "lose-answer" if method == "eth_sendRawTransaction" else None
    )
    outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "failed" and 0 in keeper.executor.journal.items  # adopted, not forgotten
    assert keeper.metrics.value("keeper_sends_total", {"action": "arm_trip", "outcome": "unconfirmed"}) == 1
    proxy.heal()
    assert keeper.cycle().markets[0].outcome.status == "in-flight"  # never signed again for another nonce
    anvil.mine()
    keeper.cycle()
    anvil.mine()
    keeper.cycle()
    assert state_of(system) == State.HALTED and nonce_of(system, system.keepers[0]) == 2


def test_lock__second_process_on_the_same_key_refused_naming_the_holder(anvil, system, make_keeper):
    make_keeper(system, anvil.url)
    with pytest.raises(
        StateDirLocked,
        match=r'locked by \{"pid": \d+, "host": ".+", "since": ".+"\}: one keeper '
        r"per key",
    ):
        make_keeper(system, anvil.url)
    make_keeper(system, anvil.url, key_index=2)  # another key: its own lock


def test_simulation__rpc_error_is_not_a_revert(anvil, system, make_keeper, fault_proxy, caplog):  # noqa: F811
    """A provider refusing the `pending` tag: logged as an error and counted, and the keeper still sends
    (simulated at `latest`) instead of reading the refusal as a revert and going silent."""
    proxy = fault_proxy(anvil.url)
    keeper = make_keeper(system, [proxy.url])
    proxy.fault = lambda method, params, in_batch: (
        {"code": -32602, "message": "invalid block tag: pending not supported"}
        if method in ("eth_call", "eth_estimateGas") and "pending" in json.dumps(params)
        else None
    )
    system.crash(0)
    with caplog.at_level(logging.INFO, logger="keeper.executor"):
        outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "sent"
    errors = [
        r for r in caplog.records if r.getMessage() == "simulation could not run (RPC error, not a revert)"
    ]
    assert errors and errors[0].levelno == logging.ERROR
    assert not [r for r in caplog.records if r.getMessage() == "simulation reverted, not sending"]
    assert keeper.metrics.value("keeper_simulation_errors_total", {"action": "arm_trip"}) == 1
    assert keeper.metrics.value("keeper_simulation_reverts_total", {"action": "arm_trip"}) == 0
    anvil.mine()  # at `latest` the confirmation passes only a block after the arm's
    keeper.cycle()
    anvil.mine()
    keeper.cycle()
    assert state_of(system) == State.HALTED


def test_simulation__revert_is_logged_as_a_revert(anvil, system, make_keeper, caplog):
    keeper = make_keeper(system, anvil.url)
    system.crash(0)
    keeper.cycle()  # the arm lands (automine)
    keeper.executor.tick(anvil.w3.eth.block_number)
    with caplog.at_level(logging.INFO, logger="keeper.executor"):
        outcome = keeper.executor.submit(Action(Kind.ARM_TRIP, 0), anvil.w3.eth.block_number)
    assert outcome == Outcome("reverted", "CircuitBreaker: already armed")
    reverted = [r for r in caplog.records if r.getMessage() == "simulation reverted, not sending"]
    assert len(reverted) == 1 and reverted[0].levelno == logging.INFO
    assert keeper.metrics.value("keeper_simulation_errors_total", {"action": "arm_trip"}) == 0


def test_foreign_arm_in_the_mempool__waited_on_then_the_keeper_arms(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, foreign_wait_blocks=2)
    crowd = congest(anvil)
    crash_mined(anvil, system)
    base = anvil.w3.eth.get_block("latest").baseFeePerGas
    parked = system.breaker.functions.arm_trip(0).transact(
        {  # anyone's arm, at a tip no block will take
            "from": system.anyone,
            "gas": 300_000,
            "maxFeePerGas": 4 * base,
            "maxPriorityFeePerGas": 0,
        }
    )
    crowd.send(60, base)
    anvil.mine()  # the node's pending state now holds the parked arm: simulations of ours say "already armed"

    outcomes = []
    for _ in range(BLOCKS):
        report = keeper.cycle()
        outcomes.append(report.markets[0].outcome)
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()
        if state_of(system) == State.HALTED:
            break
    assert [o.detail for o in outcomes[:2]] == ["CircuitBreaker: already armed"] * 2  # waited two blocks
    assert outcomes[2].status == "sent" and state_of(system) == State.HALTED
    assert anvil.w3.eth.get_transaction(parked).blockNumber is None  # the keeper did not need it
    armed = system.breaker.events.TripArmed().get_logs(from_block=0)
    assert [e.args.actor for e in armed] == [system.keepers[0]]
