"""Scenario overrides by dotted path: applied through the format's own validation, part of a cell's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.cells import Cell
from replay.overrides import load_with_overrides, parse_override
from replay.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
USDE = ROOT / "scenarios" / "oct10-usde.yaml"


def test_load_with_overrides__sets_the_field():
    scenario, _ = load_with_overrides(
        USDE,
        {"market.lending.price_source": "reference", "market.borrowers.health_factor.uniform": [1.1, 1.6]},
    )
    assert scenario.market.lending.price_source == "reference"
    assert scenario.market.borrowers.health_factor.uniform == (1.1, 1.6)
    assert load_with_overrides(USDE)[0].market.lending.price_source == "venue"


def test_load_with_overrides__creates_a_section_the_file_leaves_out(tmp_path):
    calm = ROOT / "scenarios" / "calm.yaml"
    scenario, _ = load_with_overrides(calm, {"actors.liquidator.enabled": False})
    assert scenario.actors.liquidator.enabled is False


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"market.pool.no_such_field": 1}, "market.pool.no_such_field: Extra inputs are not permitted"),
        ({"market.lending.price_source": "oracle"}, "market.lending.price_source: Input should be"),
        ({"market.pool.liquidity_usd": -5}, "market.pool.liquidity_usd: Input should be greater than 0"),
        ({"name.sub": 1}, "override name.sub: name is not a section of the scenario"),
        ({"market..pool": 1}, "override market..pool: empty part in the dotted path"),
    ],
)
def test_load_with_overrides__bad_path_or_value_named(overrides, message):
    with pytest.raises(ScenarioError, match=None) as exc:
        load_with_overrides(USDE, overrides)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_parse_override__value_read_as_yaml():
    assert parse_override("market.pool.liquidity_usd=1e7") == ("market.pool.liquidity_usd", 1e7)
    assert parse_override("a.b=[1.05, 1.6]") == ("a.b", [1.05, 1.6])
    assert parse_override("a.b=reference") == ("a.b", "reference")
    with pytest.raises(ScenarioError, match="expected PATH=VALUE"):
        parse_override("market.pool.liquidity_usd")


def test_cell__overrides_are_part_of_its_key():
    plain = Cell.of(USDE, "none", 3)
    moved = Cell.of(USDE, "none", 3, overrides={"market.pool.liquidity_usd": 1e7})
    other = Cell.of(USDE, "none", 3, overrides={"market.pool.liquidity_usd": 4e7})
    assert len({plain.filename(), moved.filename(), other.filename()}) == 3
    assert plain.run_block("v")["overrides"] == {}
    assert moved.run_block("v")["overrides"] == {"market.pool.liquidity_usd": 1e7}
    assert moved.run_block("v") != other.run_block("v")
    # one spelling: the same overrides in another order, or as a list, are the same cell
    both = {"market.pool.liquidity_usd": 1e7, "market.borrowers.health_factor.uniform": [1.1, 1.6]}
    assert Cell.of(USDE, "none", 3, overrides=both) == Cell.of(
        USDE, "none", 3, overrides=dict(reversed(both.items()))
    )
    assert hash(Cell.of(USDE, "none", 3, overrides=both))
