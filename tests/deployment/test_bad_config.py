"""Bad input to the deploy config and to scenario files: zero, negative, huge and malformed values, wrong
decimals. Each gives one line that names the field and what is expected. Values that are accepted but
should not be are marked xfail with the error they should give."""

import math
from pathlib import Path

import pytest
import yaml

from deployment.system import ConfigError, parse_config
from replay.scenario import ScenarioError, parse_scenario

pytestmark = pytest.mark.bad_input

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "config" / "local.yaml"
FEED = {"mock": {"decimals": 8, "answer": 1}, "heartbeat": 3_600}


def deploy_config(market: dict | None = None, **top) -> dict:
    raw = yaml.safe_load(LOCAL.read_text())
    raw.update(top)
    raw["markets"][0].update(market or {})
    return raw


def assert_config_error(raw, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    assert str(exc.value) == f"config: {message}"
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "market, message",
    [
        # wrong decimals
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, mock={"decimals": 37, "answer": 1})]}},
            "markets.0.oracle.feeds.0.mock.decimals: Input should be less than or equal to 36",
        ),
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, mock={"decimals": -1, "answer": 1})]}},
            "markets.0.oracle.feeds.0.mock.decimals: Input should be greater than or equal to 0",
        ),
        # zero and negative amounts
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, mock={"decimals": 8, "answer": 0})]}},
            "markets.0.oracle.feeds.0.mock.answer: Input should be greater than 0",
        ),
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, mock={"decimals": 8, "answer": -1})]}},
            "markets.0.oracle.feeds.0.mock.answer: Input should be greater than 0",
        ),
        (
            {"venue": {"mock": {"price": 1, "depth_usd": 0}}},
            "markets.0.venue.mock.depth_usd: Input should be greater than 0",
        ),
        (
            {"oracle": {"quorum": 0, "feeds": [FEED]}},
            "markets.0.oracle.quorum: Input should be greater than or equal to 1",
        ),
        (
            {"params": {"cvd_trip_bps": -5}},
            "markets.0.params: cvd_trip_bps must be between 50 and 5,000 bps (got -5)",
        ),
        (
            {"params": {"daily_trip_budget": 0}},
            "markets.0.params: daily_trip_budget must be between 1 and 24 trips (got 0)",
        ),
        # huge amounts
        (
            {"params": {"max_halt_s": 10**9}},
            "markets.0.params: max_halt_s must be between 900 and 86,400 s (got 1,000,000,000)",
        ),
        (
            {"params": {"si_notional": 10**40}},
            (
                "markets.0.params: si_notional must be between 1,000,000,000,000,000,000 and "
                "1,000,000,000,000,000,000,000,000,000,000 quote, 18 dec (got "
                "10,000,000,000,000,000,000,000,000,000,000,000,"
                "000,000)"
            ),
        ),
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, heartbeat=10**9)]}},
            "markets.0.oracle.feeds.0.heartbeat: Input should be less than or equal to 172800",
        ),
        (
            {"oracle": {"quorum": 1, "feeds": [FEED] * 8}},
            "markets.0.oracle.feeds: List should have at most 7 items after validation, not 8",
        ),
        # malformed
        (
            {"params": {"cvd_trip_bps": "abc"}},
            "markets.0.params.cvd_trip_bps: Input should be a valid integer, unable to parse string as an "
            "integer",
        ),
        (
            {"params": {"cvd_trip_bps": 300.5}},
            "markets.0.params.cvd_trip_bps: Input should be a valid integer, got a number with a fractional "
            "part",
        ),
        ({"name": ""}, "markets.0.name: String should have at least 1 character"),
        ({"venue": {"address": "0xzz"}}, "markets.0.venue.address: not an address: '0xzz'"),
        (
            {
                "oracle": {
                    "quorum": 1,
                    "feeds": [dict(FEED, address="0x5FbDB2315678afecb367f032d93F642f64180aa3")],
                }
            },
            "markets.0.oracle.feeds.0: give exactly one of 'address' or 'mock'",
        ),
        ({"surprise": 1}, "markets.0.surprise: Extra inputs are not permitted"),
        # the calm depth: whole debt units, above zero, at most 18 decimals, within 10x of a mock venue's
        # depth
        ({"calm_depth": 0}, "markets.0.calm_depth: Input should be greater than 0"),
        ({"calm_depth": -1}, "markets.0.calm_depth: Input should be greater than 0"),
        ({"calm_depth": "abc"}, "markets.0.calm_depth: Input should be a valid decimal"),
        (
            {"calm_depth": "0.0000000000000000001"},
            "markets.0.calm_depth: Decimal input should have no more than 18 decimal places",
        ),
        (
            {"calm_depth": 10**18 + 1},
            "markets.0.calm_depth: Input should be less than or equal to 1000000000000000000",
        ),
        (
            {"calm_depth": 80_000_001},
            "markets.0.calm_depth: 80,000,001 is not within 10x of the venue's settled depth 8,000,000 (the "
            "breaker refuses it)",
        ),
        (
            {"calm_depth": 799_999},
            "markets.0.calm_depth: 799,999 is not within 10x of the venue's settled depth 8,000,000 (the "
            "breaker refuses it)",
        ),
    ],
)
def test_deploy_config__bad_market_value_names_the_field(market, message):
    assert_config_error(deploy_config(market), message)


@pytest.mark.parametrize(
    "top, message",
    [
        ({"guardian": 12345}, "guardian: Input should be a valid string"),
        ({"keepers": ["0x1234"]}, "keepers: not an address: '0x1234'"),
        ({"keepers": "0x90F79bf6EB2c4f870365E785982E1f101E93b906"}, "keepers: Input should be a valid list"),
    ],
)
def test_deploy_config__bad_role_names_the_field(top, message):
    assert_config_error(deploy_config(**top), message)


def test_deploy_config__not_a_mapping():
    with pytest.raises(ConfigError, match="^config: expected a mapping at the top level$"):
        parse_config(["governance", "guardian"])


ZERO = "0x" + "00" * 20


def test_deploy_config__zero_address_governance_rejected():
    assert_config_error(
        deploy_config(governance=ZERO),
        "governance: the zero address cannot be governance: the deployment would leave the system "
        "without governance (give the address that should hold the role)",
    )


@pytest.mark.parametrize("top, field", [({"guardian": ZERO}, "guardian"), ({"keepers": [ZERO]}, "keepers")])
def test_deploy_config__zero_address_role_rejected(top, field):
    with pytest.raises(ConfigError, match=f"^config: {field}: the zero address cannot be"):
        parse_config(deploy_config(**top))


def test_deploy_config__huge_mock_venue_price_rejected():
    assert_config_error(
        deploy_config({"venue": {"mock": {"price": 1e80, "depth_usd": 1}}}),
        "markets.0.venue.mock.price: Input should be less than or equal to 1000000000000000000",
    )


@pytest.mark.parametrize(
    "market, field",
    [
        ({"venue": {"mock": {"price": 1, "depth_usd": 1e30}}}, "markets.0.venue.mock.depth_usd"),
        (
            {"oracle": {"quorum": 1, "feeds": [dict(FEED, mock={"decimals": 8, "answer": 1e30})]}},
            "markets.0.oracle.feeds.0.mock.answer",
        ),
    ],
)
def test_deploy_config__huge_mock_value_rejected(market, field):
    with pytest.raises(ConfigError, match=f"^config: {field}: Input should be less than or equal to"):
        parse_config(deploy_config(market))


# ---------------------------------------------------------------- scenarios


def scenario(**changes) -> dict:
    raw = yaml.safe_load((ROOT / "scenarios" / "calm.yaml").read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[leaf] = value
    return raw


def assert_scenario_error(raw, message: str, base_dir: Path = ROOT / "scenarios") -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(raw, base_dir, source="calm.yaml")
    assert str(exc.value) == f"calm.yaml: {message}"
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "changes, message",
    [
        # wrong decimals
        (
            {"market.collateral.decimals": 19},
            "market.collateral.decimals: Input should be less than or equal to 18",
        ),
        ({"market.debt.decimals": -1}, "market.debt.decimals: Input should be greater than or equal to 0"),
        (
            {"market.debt.decimals": 6.5},
            "market.debt.decimals: Input should be a valid integer, got a number with a fractional part",
        ),
        # zero and negative amounts
        ({"market.pool.liquidity_usd": 0}, "market.pool.liquidity_usd: Input should be greater than 0"),
        ({"market.borrowers.count": 0}, "market.borrowers.count: Input should be greater than or equal to 1"),
        (
            {"market.borrowers.collateral_usd": {"lognormal": {"median": -5, "sigma": 1}}},
            "market.borrowers.collateral_usd.lognormal.median: Input should be greater than 0",
        ),
        ({"block_time_s": 0}, "block_time_s: Input should be greater than or equal to 1"),
        (
            {"actors": {"flows": [{"t": 10, "sell": "collateral", "usd": -5}]}},
            "actors.flows.0.usd: Input should be greater than 0",
        ),
        (
            {"actors": {"flows": [{"t": -1, "sell": "collateral", "usd": 5}]}},
            "actors.flows.0.t: Input should be greater than or equal to 0",
        ),
        # huge amounts
        (
            {"market.pool.liquidity_usd": 1e13},
            "market.pool.liquidity_usd: Input should be less than or equal to 1000000000000",
        ),
        (
            {"market.borrowers.count": 10**6},
            "market.borrowers.count: Input should be less than or equal to 5000",
        ),
        ({"duration_s": 10**9}, "duration_s: Input should be less than or equal to 604800"),
        (
            {"market.lending.liquidation_threshold_bps": 99_999},
            "market.lending.liquidation_threshold_bps: Input should be less than or equal to 9800",
        ),
        (
            {"actors": {"governance": [{"t": 10, "liquidation_threshold_bps": 12_000, "ramp_s": 100}]}},
            "actors.governance.0.liquidation_threshold_bps: Input should be less than or equal to 9500",
        ),
        # malformed
        ({"start": "yesterday"}, "start: Invalid isoformat string: 'yesterday'"),
        ({"series.venue_price": {"points": [[0]]}}, "series.venue_price.points.0.1: Field required"),
        ({"series.venue_price": {"points": []}}, "series.venue_price: points must not be empty"),
        (
            {"series.venue_price": {"constant": 1, "time": "t"}},
            "series.venue_price: time and value go with csv",
        ),
        ({"series.cex": [{"name": "binance"}]}, "series.cex.0.mid: Field required"),
    ],
)
def test_scenario__bad_value_names_the_field(changes, message):
    assert_scenario_error(scenario(**changes), message)


def test_scenario__borrowers_file_missing_names_it():
    with pytest.raises(ScenarioError, match=r"^calm.yaml: market.borrowers.file: file .*nope.csv not found$"):
        parse_scenario(
            scenario(**{"market.borrowers": {"file": "nope.csv"}}), ROOT / "scenarios", source="calm.yaml"
        )


def test_scenario__csv_without_the_named_column(tmp_path):
    (tmp_path / "px.csv").write_text("t,v\n0,1.0\n")
    raw = scenario(**{"series.venue_price": {"csv": str(tmp_path / "px.csv"), "time": "t", "value": "close"}})
    assert_scenario_error(raw, "series.venue_price: px.csv has no column 't' or 'close'")


@pytest.mark.parametrize("cell", ["abc", ""])
def test_scenario__csv_cell_not_a_number_names_the_series(tmp_path, cell):
    (tmp_path / "px.csv").write_text(f"t,v\n0,1.0\n60,{cell}\n")
    raw = scenario(**{"series.venue_price": {"csv": str(tmp_path / "px.csv"), "time": "t", "value": "v"}})
    assert_scenario_error(raw, f"series.venue_price: px.csv line 3: column 'v' is {cell!r}, not a number")


@pytest.mark.parametrize(
    "changes",
    [
        {"series.venue_price": {"constant": -1}},
        {"series.venue_price": {"points": [[0, 1.0], [100, 0.0]]}},
        {"series.venue_price": {"constant": math.nan}},
        {"series.fair_price": {"constant": math.inf}},
        {"series.venue_depth_ratio": {"constant": -0.5}},
    ],
    ids=["venue-negative", "venue-zero", "venue-nan", "fair-inf", "depth-negative"],
)
def test_scenario__nonsense_series_value_rejected(changes):
    series = next(iter(changes)).split(".")[1]
    with pytest.raises(
        ScenarioError, match=f"^calm.yaml: series.{series}: .* expected a finite number"
    ) as exc:
        parse_scenario(scenario(**changes), ROOT / "scenarios", source="calm.yaml")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"series.venue_price": {"points": [[0, 1.0], [100, 0.0]]}},
            "series.venue_price: points.1 is 0.0, expected a finite number > 0",
        ),
        (
            {"series.venue_depth_ratio": {"constant": -0.5}},
            "series.venue_depth_ratio: constant is -0.5, expected a finite number >= 0",
        ),
    ],
)
def test_scenario__nonsense_series_value_names_its_place(changes, message):
    assert_scenario_error(scenario(**changes), message)


def test_scenario__nonsense_reference_value_names_the_feed():
    raw = scenario()
    raw["series"]["reference"][0] = {"name": raw["series"]["reference"][0]["name"], "constant": 0}
    assert_scenario_error(raw, "series.reference.0: constant is 0.0, expected a finite number > 0")


@pytest.mark.parametrize("cell", ["0", "-2.5", "nan", "inf"])
def test_scenario__csv_nonsense_price_names_the_file_and_line(tmp_path, cell):
    (tmp_path / "px.csv").write_text(f"t,v\n0,1.0\n60,{cell}\n")
    raw = scenario(**{"series.fair_price": {"csv": str(tmp_path / "px.csv"), "time": "t", "value": "v"}})
    assert_scenario_error(
        raw, f"series.fair_price: px.csv line 3, column 'v' is {float(cell)!r}, expected a finite number > 0"
    )
