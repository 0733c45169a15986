"""The worlds on one engine: the same actors everywhere, only the protection's wiring differs; the model's
own flows never take the pool below what traded; the lending market's price source as an axis."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from replay.__main__ import run_replay
from replay.world import PROTECTIONS, WIRING
from tests.replay.crash import venue_crash

ROOT = Path(__file__).resolve().parents[2]
HALTED = 2

CRASH = venue_crash(
    "world-crash",
    1200,
    references=[{"name": "onchain", "constant": 0.999}, {"name": "peg", "constant": 1.0}],
    # a small arbitrageur: the dislocation outlasts its capital
    arbitrageur_usd=50_000,
)


def write(tmp_path_factory: pytest.TempPathFactory, scenario: dict) -> Path:
    path = tmp_path_factory.mktemp("scenarios") / f"{scenario['name']}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    path = write(tmp_path_factory, CRASH)
    return {world: run_replay(path, world, progress=False)[:2] for world in PROTECTIONS}


def test_worlds__every_world_gets_the_same_actors(worlds):
    for world, (_, record) in worlds.items():
        assert record.given_usd["arbitrageur"] == pytest.approx(50_000), world
        assert record.given_usd["market_maker"] > 0, world
        assert ("dlp" in record.given_usd) == WIRING[world].pool_halts, world
        assert record.arbitrage_trades > 0, world


def test_worlds__only_the_wired_protection_acts(worlds):
    for world, (result, record) in worlds.items():
        wiring = WIRING[world]
        halted = any(state == HALTED for _, state in record.states)
        assert halted == bool(wiring.trips_by), world
        if wiring.trips_by == "keeper":
            # rule A (deviation, thin depth) or B (velocity, slippage, LCE): without a band the fall is fast
            assert len(result["trips"]) == 1 and result["trips"][0]["rule"] in ("A", "B"), world
        elif wiring.trips_by:
            assert {trip["rule"] for trip in result["trips"]} == {wiring.trips_by}, world
    # without a band the pool follows the venue down; with one it stays within 5% of the reference
    assert min(pool for _, _, pool, _ in worlds["none"][1].prices) < 0.75
    assert min(pool for _, _, pool, _ in worlds["band-only"][1].prices) > 0.94


def test_worlds__a_protection_saves_borrowers_that_none_loses(worlds):
    lost = {world: result["borrower_loss_usd"] for world, (result, _) in worlds.items()}
    assert lost["none"] > 0
    for world in ("composite", "band-only", "breaker-only"):
        assert lost[world] < lost["none"], (world, lost)


def test_record__a_liquidation_carries_its_moment(worlds):
    _, record = worlds["none"]
    assert record.liquidations
    for liq in record.liquidations:
        assert liq.lending_price > 0 and liq.pool_price > 0 and liq.reference_price > 0
        assert liq.venue_price == pytest.approx(0.70, abs=0.3)
        assert liq.state == 1 and not liq.banded
    sold = record.sales
    assert sold["to_external"] > 0 and sold["proceeds"] > 0


def test_record__each_write_off_carries_its_moment(worlds):
    """Bad debt split by cause needs each write-off's prices: here the pool fell for the model's venue,
    not for real (the fair price stayed at 1)."""
    _, record = worlds["none"]
    assert record.bad_debt
    assert sum(entry["amount"] for entry in record.bad_debt) == pytest.approx(record.written_off)
    for entry in record.bad_debt:
        assert entry["fair_price"] == 1.0 and entry["reference_price"] > 0.99
        assert entry["lending_price"] == pytest.approx(entry["pool_price"], rel=1e-9)
        assert entry["pool_price"] < 0.8


def test_liquidator__never_sells_the_pool_below_its_limit(worlds):
    """The pool never ends a block below the venue series' price by more than the market maker's 0.05%
    tolerance: the liquidator sells into it only above the best quote less its slippage limit."""
    for world in ("none", "breaker-only"):
        _, record = worlds[world]
        worst = min(pool / venue for _, venue, pool, _ in record.prices)
        assert worst > 1 - 0.0006, world


def test_none__oct10_pool_stays_above_the_lowest_traded_price():
    """On 10 October the lowest Binance close in the series is the floor for the unprotected pool: the model's
    own flows do not take it lower than that (0.1%: the market maker's 0.05% tolerance and rounding)."""
    result, record, _ = run_replay(ROOT / "scenarios" / "oct10-usde.yaml", "none", progress=False, blocks=700)
    lowest_venue = min(venue for _, venue, _, _ in record.prices)
    lowest_pool = min(pool for _, _, pool, _ in record.prices)
    assert lowest_venue < 0.7  # the run covers the 21:36-21:54 lows
    assert lowest_pool >= lowest_venue * (1 - 0.001), (lowest_pool, lowest_venue)
    assert result["liquidations"] > 0


def test_aggregator__a_heavy_broken_venue_sets_the_lending_price(tmp_path_factory):
    """A median of the pool and two reference feeds ignores the broken pool; with weight 3 the pool is the
    median and the lending market liquidates on it."""
    results = {}
    for weight in (1.0, 3.0):
        scenario = copy.deepcopy(CRASH)
        scenario["name"] = f"aggregator-{int(weight)}"
        scenario["market"]["lending"] = {"price_source": "aggregator", "aggregator": {"venue_weight": weight}}
        results[weight] = run_replay(write(tmp_path_factory, scenario), "none", progress=False)[0]
    assert results[1.0]["liquidations"] == 0
    assert results[3.0]["wrongful_liquidations"] > 0
