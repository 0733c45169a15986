"""Sensitivity axes: each value a scenario override, an axis the format lacks refused by name."""

from __future__ import annotations

import argparse
from pathlib import Path

from replay.overrides import load_with_overrides
from replay.sensitivity import AXES, BASE, Axis, axis_variants, command, tables

ROOT = Path(__file__).resolve().parents[2]
USDE = ROOT / "scenarios" / "oct10-usde.yaml"


def test_axis_variants__values_from_the_scenarios_own():
    scenario, _ = load_with_overrides(USDE)
    health, depth = (next(a for a in AXES if a.name == n) for n in ("health", "depth"))
    variants, refused = axis_variants(USDE, scenario, [health, depth])
    assert refused == []
    assert variants[("-", BASE)] == {}
    assert variants[("health", "1.05")] == {"market.borrowers.health_factor.uniform": [1.05, 1.6]}
    # the pool's depth path and the external market's, which this scenario sets, move together
    assert variants[("depth", "x0.5")] == {
        "market.pool.liquidity_usd": 10_000_000,
        "market.external.depth_1pct_usd": 500_000,
    }
    assert variants[("depth", "x2")] == {
        "market.pool.liquidity_usd": 40_000_000,
        "market.external.depth_1pct_usd": 2_000_000,
    }


def test_axis_variants__an_external_depth_left_to_its_default_follows_the_pool_s():
    calm = ROOT / "scenarios" / "calm.yaml"
    scenario, _ = load_with_overrides(calm)
    assert scenario.market.external.depth_1pct_usd is None
    depth = next(a for a in AXES if a.name == "depth")
    variants, _ = axis_variants(calm, scenario, [depth])
    assert variants[("depth", "x2")] == {"market.pool.liquidity_usd": 40_000_000}


def test_axis_variants__a_field_the_format_lacks_is_refused_by_name_and_the_rest_kept():
    scenario, _ = load_with_overrides(USDE)
    unknown = Axis(
        "made-up", "actors.liquidator.patience_s", lambda s: [("60", {"actors.liquidator.patience_s": 60})]
    )
    depth = next(a for a in AXES if a.name == "depth")
    variants, refused = axis_variants(USDE, scenario, [unknown, depth])
    assert len(refused) == 1
    assert refused[0].startswith("axis made-up (actors.liquidator.patience_s): ")
    assert "actors.liquidator.patience_s: Extra inputs are not permitted" in refused[0]
    assert set(variants) == {("-", BASE), ("depth", "x0.5"), ("depth", "x2")}


def test_tables__a_row_per_variant_a_column_per_world():
    spread = {"median": 1_500.0, "p5": 1_000.0, "p95": 2_000.0, "n": 3}
    summary = {
        "-=scenario's own": {
            "none": dict.fromkeys(
                ("wrongful_borrower_loss_usd", "wrongful_borrowers", "bad_debt_usd"), spread
            )
        },
        "depth=x2": {},
    }
    text = tables(summary)
    assert "1.5k [1k, 2k]" in text
    row = next(line for line in text.splitlines() if line.startswith("depth=x2"))
    assert row.split()[1:] == ["-"] * (len(row.split()) - 1)


def test_command__reproduces_the_run_with_paths_inside_the_project():
    args = argparse.Namespace(scenario=str(USDE), seeds=list(range(20)), axes=["health", "band"], blocks=None)
    out = ROOT / "docs" / "results" / "oct10-usde" / "sensitivity"
    assert command(args, {"hold_blocks": 2}, out) == (
        "python -m replay.sensitivity scenarios/oct10-usde.yaml --seeds 20 --axes health band "
        "--param hold_blocks=2 --out docs/results/oct10-usde/sensitivity"
    )
    every_axis = argparse.Namespace(scenario=str(USDE), seeds=[3, 5], axes=[a.name for a in AXES], blocks=50)
    assert command(every_axis, {}, out) == (
        "python -m replay.sensitivity scenarios/oct10-usde.yaml --seeds 3,5 --blocks 50 "
        "--out docs/results/oct10-usde/sensitivity"
    )
