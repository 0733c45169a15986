"""Scenario files: every shipped scenario loads; an invalid one fails with one line naming the field."""

from pathlib import Path

import pytest
import yaml

from replay.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_load_scenario__shipped(path):
    scenario, curves = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.blocks * scenario.block_time_s <= scenario.duration_s
    assert curves.venue_price.at(0) > 0
    assert all(series.at(0) > 0 for _, series in curves.reference)


def test_oct10_usde__follows_the_binance_closes():
    _, curves = load_scenario(ROOT / "scenarios" / "oct10-usde.yaml")
    # 21:44 close 0.67 (t = 6240) and the 21:54 bar's close 0.8304 (t = 6840); data read, not typed in
    assert curves.venue_price.at(6240) == 0.67
    assert curves.venue_price.at(6840) == 0.8304
    onchain = dict(curves.reference)["onchain-pool"]
    assert 0.99 < onchain.at(6240) < 1.001


def _raw(**changes):
    raw = yaml.safe_load((ROOT / "scenarios" / "calm.yaml").read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[leaf] = value
    return raw


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "Calm Day"}, "name: String should match pattern '^[a-z0-9-]+$'"),
        ({"duration_s": -5}, "duration_s: Input should be greater than 0"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        (
            {"series.venue_price": {"constant": "abc"}},
            "series.venue_price.constant: Input should be a valid number, unable to parse string as a number",
        ),
        (
            {"series.venue_price": {"constant": 1, "points": [[0, 1]]}},
            "series.venue_price: give exactly one of constant, points or csv",
        ),
        (
            {"series.reference": []},
            "series.reference: List should have at least 1 item after validation, not 0",
        ),
        (
            {"market.lending.price_source": "cex"},
            "market.lending.price_source: Input should be 'venue', 'reference' or 'aggregator'",
        ),
        (
            {"market.borrowers.health_factor": {"uniform": [0.9, 1.2]}},
            "market.borrowers.health_factor.uniform: expected [low, high] with 1 <= low <= high",
        ),
    ],
)
@pytest.mark.bad_input
def test_parse_scenario__invalid_field(changes, message):
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(_raw(**changes), ROOT / "scenarios", source="calm.yaml")
    assert str(exc.value) == f"calm.yaml: {message}"
    assert "\n" not in str(exc.value)


def test_parse_scenario__missing_csv_names_the_series():
    with pytest.raises(ScenarioError, match=r"series.venue_price.csv: file .*nope.csv not found"):
        parse_scenario(
            _raw(**{"series.venue_price": {"csv": "nope.csv", "time": "t", "value": "v"}}),
            ROOT / "scenarios",
            source="calm.yaml",
        )


def test_load_scenario__missing_file():
    with pytest.raises(ScenarioError, match="scenario file .* not found"):
        load_scenario(ROOT / "scenarios" / "nope.yaml")
