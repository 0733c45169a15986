"""Redundant keepers with distinct keys: the primary acts at once, secondaries defer `defer_blocks` blocks and
act only if nothing landed. Three keepers race through a crash on a congested anvil (automine off, blocks
mined by the test): exactly one trip lands, the others stand down, and no two keepers ever sign for the same
account."""

from __future__ import annotations

from devchain import Crowd, deploy_system
from keeper.model import State
from tests.keeper.conftest import GWEI, nonce_of, tripped_events


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


def congested_crash(anvil, system) -> Crowd:
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    crowd = Crowd(anvil, tip_median_gwei=5)
    for _ in range(2):
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()
    venue = system.markets[0].venue
    for fn in (venue.functions.set_price(9 * 10**17), venue.functions.set_depth(8 * 10**23)):
        fn.transact(
            {
                "from": system.anyone,
                "gas": 100_000,
                "maxFeePerGas": 1_000 * GWEI,
                "maxPriorityFeePerGas": 100 * GWEI,
            }
        )
    anvil.mine()
    return crowd


def three_keepers(anvil, make_keeper):
    # the transaction path is under test, not rule A's hold: its minimum, so block counts start at the crash
    system = deploy_system(anvil.w3, markets=1, keepers=3, params={"hold_blocks": 2})
    keepers = [
        make_keeper(system, anvil.url, 1),
        make_keeper(system, anvil.url, 2, defer_blocks=2),
        make_keeper(system, anvil.url, 3, defer_blocks=4),
    ]
    return system, keepers


def race(anvil, system, crowd, keepers, blocks: int, alive=lambda block, i: True) -> None:
    for block in range(blocks):
        for i, keeper in enumerate(keepers):
            if alive(block, i):
                keeper.cycle()
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()


def test_three_keepers__primary_trips_the_secondaries_stand_down(anvil, make_keeper):
    system, keepers = three_keepers(anvil, make_keeper)
    crowd = congested_crash(anvil, system)
    race(anvil, system, crowd, keepers, blocks=8)
    assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
    primary, second, third = system.keepers
    assert nonce_of(system, primary) == 2  # arm and trip, nothing else
    assert nonce_of(system, second, "pending") == 0 and nonce_of(system, third, "pending") == 0
    deferred = [
        k.metrics.value("keeper_sends_total", {"action": "arm_trip", "outcome": "sent"}) for k in keepers
    ]
    assert deferred == [1, 0, 0]


def test_three_keepers__primary_dies_after_arming_the_first_secondary_trips(anvil, make_keeper):
    system, keepers = three_keepers(anvil, make_keeper)
    crowd = congested_crash(anvil, system)
    # The primary sends its arm in the first block that opens on the crash and dies before confirming the
    # trip.
    race(anvil, system, crowd, keepers, blocks=10, alive=lambda block, i: i > 0 or block < 2)
    assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
    primary, second, third = system.keepers
    tripped_by = tripped_events(system)[0]
    receipt = anvil.w3.eth.get_transaction(tripped_by.transactionHash)
    assert receipt["from"] == second  # the first secondary, after its deferral
    assert nonce_of(system, primary) == 1 and nonce_of(system, second) == 1
    assert nonce_of(system, third, "pending") == 0  # the last one never had to act
    assert keepers[2].metrics.value("keeper_sends_total", {"action": "trip", "outcome": "sent"}) == 0
