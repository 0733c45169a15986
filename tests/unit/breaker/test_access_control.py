"""The access-control matrix: every role against every privileged function."""

import ape
import pytest
from ape.exceptions import ContractLogicError

from keeper import params as P
from tests.helpers import DEPTH

MISSING_ROLE = "access_control: account is missing role"
ROLES = ("governance", "guardian", "keeper", "anyone", "deployer")

# function -> (role allowed, builder of the call's arguments)
PRIVILEGED = {
    "register_market": ("governance", lambda ctx: (ctx["venue"], ctx["oracle"], P.as_array(P.resolve()))),
    "set_param": ("governance", lambda ctx: (0, 0, 400)),
    "add_consumer": ("governance", lambda ctx: (0, ctx["consumer"])),
    "remove_consumer": ("governance", lambda ctx: (0, ctx["consumer"])),
    "force_resume": ("governance", lambda ctx: (0,)),
    "reset_depth_baseline": ("governance", lambda ctx: (0, DEPTH)),
    "trip_attested": ("keeper", lambda ctx: (0, 20_000)),
    "extend_halt": ("keeper", lambda ctx: (0, 20_000)),
    "guardian_trip": ("guardian", lambda ctx: (0,)),
    "guardian_extend": ("guardian", lambda ctx: (0, 600)),
    "grantRole": ("governance", lambda ctx: (ctx["keeper_role"], ctx["anyone"].address)),
    "revokeRole": ("governance", lambda ctx: (ctx["keeper_role"], ctx["keeper"].address)),
}


@pytest.fixture
def ctx(project, breaker, market_id, venue, oracle, deployer, governance, guardian, keeper, anyone):
    return {
        "venue": venue,
        "oracle": oracle,
        "consumer": project.MockConsumer.deploy(sender=deployer),
        "keeper_role": breaker.KEEPER_ROLE(),
        "anyone": anyone,
        "keeper": keeper,
        "governance": governance,
        "guardian": guardian,
        "deployer": deployer,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("function", PRIVILEGED)
@pytest.mark.threat
def test_privileged_function__role_matrix(breaker, ctx, function, role):
    allowed, build_args = PRIVILEGED[function]
    sender = ctx[role]
    call = getattr(breaker, function)
    if role != allowed:
        with ape.reverts(MISSING_ROLE):
            call(*build_args(ctx), sender=sender)
        return
    # The role passes the access check; the call may still stop on a state check.
    try:
        call(*build_args(ctx), sender=sender)
    except ContractLogicError as exc:
        assert MISSING_ROLE not in str(exc)


@pytest.mark.threat
def test_deployer__holds_no_power_after_handover(breaker, deployer, governance):
    assert not breaker.hasRole(breaker.GOVERNANCE_ROLE(), deployer)
    assert breaker.hasRole(breaker.GOVERNANCE_ROLE(), governance)


def test_grant_role__event(breaker, governance, anyone):
    receipt = breaker.grantRole(breaker.GUARDIAN_ROLE(), anyone, sender=governance)
    [event] = receipt.decode_logs(breaker.RoleGranted)
    assert (event.role, event.account, event.sender) == (
        breaker.GUARDIAN_ROLE(),
        anyone.address,
        governance.address,
    )
    assert breaker.hasRole(breaker.GUARDIAN_ROLE(), anyone)


def test_permissionless_functions__anyone(breaker, market_id, anyone):
    breaker.poke(market_id, sender=anyone)
    breaker.sync(market_id, sender=anyone)
