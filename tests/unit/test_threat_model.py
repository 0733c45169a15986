"""The threat model (docs/threat-model.md) held to the code: every state-changing function of every deployable
is in its role table, every test it cites exists, and the limits it states about the roles hold on-chain."""

import json
import re
from pathlib import Path

import ape
import pytest

from tests.constants import COOLDOWN, HALTED
from tests.helpers import advance, move_venue

ROOT = Path(__file__).resolve().parents[2]
THREAT_MODEL = ROOT / "docs" / "threat-model.md"
DEPLOYABLES = (
    "CircuitBreaker",
    "ReferenceOracle",
    "GuardedPool",
    "LendingMarket",
    "ReopeningAuction",
    "BreakerFeed",
    "AaveBreakerSteward",
    "BreakerHookV4",
    "UniswapV2Venue",
    "CurveStableswapVenue",
)


def _section(title: str) -> str:
    text = THREAT_MODEL.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _role_table() -> dict[str, set[str]]:
    """contract -> every function named in its rows of the role table."""
    table: dict[str, set[str]] = {}
    for line in _section("Roles").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in DEPLOYABLES:
            table.setdefault(cells[0], set()).update(re.findall(r"`(\w+)`", cells[1]))
    return table


def _state_changing(name: str) -> set[str]:
    build = json.loads((ROOT / ".build" / "__local__.json").read_text())
    abi = build["contractTypes"][name]["abi"]
    return {
        e["name"]
        for e in abi
        if e.get("type") == "function" and e.get("stateMutability") in ("nonpayable", "payable")
    }


@pytest.mark.parametrize("contract", DEPLOYABLES)
@pytest.mark.threat
def test_role_table__lists_every_state_changing_function(project, contract):
    """A function added to a contract without a line in the threat model fails here (and one removed)."""
    assert _role_table().get(contract, set()) == _state_changing(contract)


def test_threat_model__every_cited_test_exists():
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", THREAT_MODEL.read_text()))
    assert len(cited) > 50
    missing = []
    for path, name in sorted(cited):
        source = ROOT / path
        if not source.is_file() or not re.search(rf"^\s*def {name}\(", source.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_threat_model__tests_cited_against_a_threat_carry_the_marker():
    """`ape test -m threat` runs exactly what the Threats section cites (a new citation without the marker
    fails)."""
    unmarked = []
    for path, name in sorted(set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", _section("Threats")))):
        source = (ROOT / path).read_text()
        if re.search(r"^pytestmark = .*pytest\.mark\.threat", source, re.MULTILINE):
            continue
        lines = source.splitlines()
        at = next(i for i, line in enumerate(lines) if re.match(rf"(async )?def {name}\(", line))
        decorators = []
        while at > 0 and lines[at - 1].startswith("@"):
            at -= 1
            decorators.append(lines[at])
        if "@pytest.mark.threat" not in decorators:
            unmarked.append(f"{path}::{name}")
    assert unmarked == []


# ---------------------------------------------------------------- what a compromised role can do


@pytest.mark.threat
def test_guardian__can_retrip_after_every_lapse_until_governance_revokes_it(
    breaker, market_id, guardian, governance, anyone
):
    """A compromised guardian cannot extend a halt past max_halt, but it may trip again after each lapse
    (tighten-only, no budget): the bound is governance revoking the role."""
    max_halt = breaker.params(market_id, breaker.P_MAX_HALT_S())
    for _ in range(2):
        breaker.guardian_trip(market_id, sender=guardian)
        lapse = breaker.status(market_id).lapse_at
        breaker.guardian_extend(market_id, max_halt, sender=guardian)
        assert breaker.status(market_id).resume_after == lapse  # never past max halt
        ape.chain.pending_timestamp = lapse
        breaker.sync(market_id, sender=anyone)
        assert breaker.state(market_id) == COOLDOWN
    breaker.guardian_trip(market_id, sender=guardian)
    breaker.revokeRole(breaker.GUARDIAN_ROLE(), guardian, sender=governance)
    ape.chain.pending_timestamp = breaker.status(market_id).lapse_at
    breaker.sync(market_id, sender=anyone)
    with ape.reverts("access_control: account is missing role"):
        breaker.guardian_trip(market_id, sender=guardian)


def _start_of_day(feed, sender):
    now = ape.chain.pending_timestamp
    ape.chain.pending_timestamp = now - now % 86_400 + 86_400 + 10
    feed.set_answer(10**8, sender=sender)


@pytest.mark.threat
def test_trip_attested__daily_budget_bounds_a_keeper_with_evidence(
    breaker, market_id, venue, feed, keeper, governance, anyone
):
    """A compromised keeper that can also move the venue (a bundle: drop, attest, restore) is bounded by
    the daily trip budget, which rule B shares with rule A."""
    _start_of_day(feed, anyone)
    budget = breaker.params(market_id, breaker.P_DAILY_TRIP_BUDGET())
    for _ in range(budget):
        move_venue(venue, anyone, price=1.0, slippage_bps=0)
        advance(13)
        breaker.poke(market_id, sender=anyone)
        move_venue(venue, anyone, price=0.85, slippage_bps=800)
        breaker.trip_attested(market_id, 1_000_000, sender=keeper)
        breaker.force_resume(market_id, sender=governance)
    move_venue(venue, anyone, price=1.0, slippage_bps=0)
    advance(13)
    breaker.poke(market_id, sender=anyone)
    move_venue(venue, anyone, price=0.85, slippage_bps=800)
    with ape.reverts("CircuitBreaker: daily trip budget spent, guardian only"):
        breaker.trip_attested(market_id, 1_000_000, sender=keeper)


@pytest.mark.threat
def test_set_param__running_halt_keeps_its_deadlines(breaker, market_id, guardian, governance):
    """Governance changing the halt parameters mid-halt changes future halts only."""
    breaker.guardian_trip(market_id, sender=guardian)
    before = breaker.status(market_id)
    breaker.set_param(market_id, breaker.P_MAX_HALT_S(), 900, sender=governance)
    breaker.set_param(market_id, breaker.P_T_DLP_S(), 0, sender=governance)
    after = breaker.status(market_id)
    assert (after.resume_after, after.lapse_at) == (before.resume_after, before.lapse_at)
    assert breaker.state(market_id) == HALTED
