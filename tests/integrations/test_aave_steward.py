"""AaveBreakerSteward: what it may do with Aave's RISK_ADMIN role (freeze and LTV 0 while not NORMAL, undo
at NORMAL) and everything the role allows that it cannot reach."""

from __future__ import annotations

import re

import ape
import pytest
from ape import chain
from ape.exceptions import ContractLogicError, VirtualMachineError
from eth_utils import keccak

from devchain.npm import NODE_MODULES
from tests.integrations.aave_setup import USDE_BONUS, USDE_LTV, USDE_THRESHOLD

NORMAL, HALTED, COOLDOWN = 1, 2, 4
CALLER_NOT_RISK_OR_POOL_ADMIN = "4"
AAVE_SOURCES = NODE_MODULES / "@aave/core-v3/contracts"


def _risk_admin_functions(path: str) -> list[str]:
    """Every function of an Aave contract behind `onlyRiskOrPoolAdmins`, read from Aave's own source."""
    source = (AAVE_SOURCES / path).read_text()
    return [
        name
        for name, header in re.findall(r"function (\w+)\(([^{]*)\{", source)
        if "onlyRiskOrPoolAdmins" in header
    ]


RISK_ADMIN_FUNCTIONS = _risk_admin_functions("protocol/pool/PoolConfigurator.sol")
# The L2 sequencer sentinel (not deployed on Ethereum, nor here): its grace period setter.
SENTINEL_RISK_ADMIN_FUNCTIONS = _risk_admin_functions("protocol/configuration/PriceOracleSentinel.sol")


def _args(abi, asset: str) -> list:
    """Plausible arguments for any configurator call: the asset, small numbers, true, a label."""
    values = {"address": asset, "bool": True, "string": "breaker", "bytes": b""}
    return [values.get(i.type, 1) for i in abi.inputs]


@pytest.fixture
def as_breaker(accounts, protected):
    chain.set_balance(protected.breaker.address, 10**18)
    return accounts[protected.breaker.address]


@pytest.fixture
def as_steward(accounts, protected):
    chain.set_balance(protected.steward.address, 10**18)
    return accounts[protected.steward.address]


def test_risk_admin_reach__configurator_and_l2_sentinel_only():
    """In Aave v3.0 the risk admin role is checked by the PoolConfigurator and the L2 PriceOracleSentinel."""
    users = sorted(
        str(p.relative_to(AAVE_SOURCES))
        for p in AAVE_SOURCES.rglob("*.sol")
        if "isRiskAdmin(" in p.read_text() and "/interfaces/" not in str(p)
    )
    assert users == [
        "protocol/configuration/ACLManager.sol",
        "protocol/configuration/PriceOracleSentinel.sol",
        "protocol/pool/PoolConfigurator.sol",
    ]
    assert "setReserveFreeze" in RISK_ADMIN_FUNCTIONS and len(RISK_ADMIN_FUNCTIONS) >= 15
    assert SENTINEL_RISK_ADMIN_FUNCTIONS == ["setGracePeriod"]


def test_steward_abi__on_breaker_state_is_its_only_call(project, protected):
    steward = project.AaveBreakerSteward.contract_type
    mutating = [
        f.name for f in steward.abi if f.type == "function" and f.stateMutability not in ("view", "pure")
    ]
    assert mutating == ["on_breaker_state"]
    # No steward function shares a 4-byte selector with a risk-admin call (a clash would route to it).
    configurator = protected.core.configurator.contract_type.method_identifiers
    risk_admin_ids = {i for sig, i in configurator.items() if sig.split("(")[0] in RISK_ADMIN_FUNCTIONS}
    assert len(risk_admin_ids) == len(RISK_ADMIN_FUNCTIONS)
    assert not set(steward.method_identifiers.values()) & risk_admin_ids


@pytest.mark.parametrize("name", RISK_ADMIN_FUNCTIONS)
def test_risk_admin_call__allowed_by_the_role_but_unreachable_through_steward(
    protected, as_steward, anyone, name
):
    configurator = protected.core.configurator
    abi = next(a for a in configurator.contract_type.abi if a.type == "function" and a.name == name)
    args = _args(abi, protected.collateral.address)
    calldata = getattr(configurator, name).encode_input(*args)

    with ape.reverts(CALLER_NOT_RISK_OR_POOL_ADMIN):
        getattr(configurator, name)(*args, sender=anyone)
    # The role passes the steward's address: any revert is the arguments', not the role check's.
    try:
        getattr(configurator, name)(*args, sender=as_steward)
    except ContractLogicError as err:
        assert err.message != CALLER_NOT_RISK_OR_POOL_ADMIN

    config_before = protected.core.pool.getConfiguration(protected.collateral).data
    with ape.reverts():
        anyone.transfer(protected.steward.address, 0, data=calldata)
    assert protected.core.pool.getConfiguration(protected.collateral).data == config_before


def test_on_breaker_state__not_the_breaker_reverts(protected, anyone):
    with ape.reverts("AaveBreakerSteward: caller is not the breaker"):
        protected.steward.on_breaker_state(protected.market_id, HALTED, 10**18, sender=anyone)


def test_on_breaker_state__other_market_reverts(protected, as_breaker):
    with ape.reverts("AaveBreakerSteward: wrong market"):
        protected.steward.on_breaker_state(protected.market_id + 1, HALTED, 10**18, sender=as_breaker)


def test_on_breaker_state__repeated_halt_side_does_nothing(protected, guardian, governance):
    protected.breaker.guardian_trip(protected.market_id, sender=guardian)

    receipt = protected.breaker.force_resume(protected.market_id, sender=governance)

    assert protected.steward.ReserveRestricted.from_receipt(receipt) == []
    assert protected.steward.ReserveReleased.from_receipt(receipt) == []
    assert protected.config() == (0, USDE_THRESHOLD, USDE_BONUS, True)


def test_release__reserve_governance_froze_stays_frozen(protected, guardian, governance, as_breaker):
    protected.core.configurator.setReserveFreeze(protected.collateral, True, sender=governance)
    trip = protected.breaker.guardian_trip(protected.market_id, sender=guardian)
    assert [e.froze for e in protected.steward.ReserveRestricted.from_receipt(trip)] == [False]

    receipt = protected.steward.on_breaker_state(protected.market_id, NORMAL, 10**18, sender=as_breaker)

    assert [(e.unfroze, e.restored_ltv) for e in protected.steward.ReserveReleased.from_receipt(receipt)] == [
        (False, USDE_LTV)
    ]
    assert protected.config() == (USDE_LTV, USDE_THRESHOLD, USDE_BONUS, True)


def test_release__ltv_governance_set_during_halt_is_kept(protected, guardian, governance, as_breaker):
    protected.breaker.guardian_trip(protected.market_id, sender=guardian)
    protected.core.configurator.configureReserveAsCollateral(
        protected.collateral, 5_000, USDE_THRESHOLD, USDE_BONUS, sender=governance
    )

    receipt = protected.steward.on_breaker_state(protected.market_id, NORMAL, 10**18, sender=as_breaker)

    assert [(e.unfroze, e.restored_ltv) for e in protected.steward.ReserveReleased.from_receipt(receipt)] == [
        (True, 0)
    ]
    assert protected.config() == (5_000, USDE_THRESHOLD, USDE_BONUS, False)


def test_release__ltv_above_a_lowered_threshold_not_restored(protected, guardian, governance, as_breaker):
    protected.breaker.guardian_trip(protected.market_id, sender=guardian)
    protected.core.configurator.configureReserveAsCollateral(
        protected.collateral, 0, 7_000, USDE_BONUS, sender=governance
    )

    receipt = protected.steward.on_breaker_state(protected.market_id, NORMAL, 10**18, sender=as_breaker)

    assert [e.restored_ltv for e in protected.steward.ReserveReleased.from_receipt(receipt)] == [0]
    assert protected.config() == (0, 7_000, USDE_BONUS, False)


def test_trip__revoked_role_does_not_block_the_breaker(protected, guardian, governance):
    protected.core.acl.removeRiskAdmin(protected.steward, sender=governance)

    receipt = protected.breaker.guardian_trip(protected.market_id, sender=guardian)

    assert protected.breaker.state(protected.market_id) == HALTED
    failed = protected.steward.StewardCallFailed.from_receipt(receipt)
    assert [bytes(e.selector) for e in failed] == [
        keccak(text="setReserveFreeze(address,bool)")[:4],
        keccak(text="configureReserveAsCollateral(address,uint256,uint256,uint256)")[:4],
    ]
    assert protected.config() == (USDE_LTV, USDE_THRESHOLD, USDE_BONUS, False)


def test_trip__too_little_gas_never_trips_without_the_freeze(protected, guardian):
    """Whatever gas the caller sends, the trip and the freeze land together or not at all."""
    estimate = protected.breaker.guardian_trip.estimate_gas_cost(protected.market_id, sender=guardian)
    outcomes = set()
    for gas in range(max(estimate - 200_000, 60_000), estimate + 50_000, 10_000):
        snapshot = chain.snapshot()
        try:
            protected.breaker.guardian_trip(protected.market_id, sender=guardian, gas=gas)
        except VirtualMachineError:  # an out-of-gas or the steward's gas check: the whole trip reverts
            outcomes.add("reverted")
        else:
            halted = protected.breaker.state(protected.market_id) == HALTED
            assert halted and protected.config()[3], f"tripped without the freeze at gas {gas}"
            outcomes.add("tripped and frozen")
        chain.restore(snapshot)
    assert outcomes == {"reverted", "tripped and frozen"}
