"""Deploy config validation: a bad field gives one clear error naming it."""

from pathlib import Path

import pytest
import yaml

from deployment.system import ConfigError, load_config, parse_config
from keeper import params as P

LOCAL = Path(__file__).resolve().parents[2] / "config" / "local.yaml"


def _config(**changes):
    raw = yaml.safe_load(LOCAL.read_text())
    raw.update(changes)
    return raw


def test_load_config__local_file_is_valid():
    config = load_config(LOCAL)
    assert config.markets[0].resolved_params() == P.resolve()
    assert config.uses_mocks


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"governance": "0x1234"}, "config: governance: not an address: '0x1234'"),
        ({"keepers": []}, "config: keepers: List should have at least 1 item after validation, not 0"),
        ({"surprise": 1}, "config: surprise: Extra inputs are not permitted"),
        ({"markets": []}, "config: markets: List should have at least 1 item after validation, not 0"),
    ],
)
@pytest.mark.bad_input
def test_parse_config__bad_top_level_field(changes, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(_config(**changes))
    assert str(exc.value) == message


def _market(**changes):
    raw = _config()
    raw["markets"][0].update(changes)
    return raw


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"params": {"cvd_trip_bps": 10}},
            "config: markets.0.params: cvd_trip_bps must be between 50 and 5,000 bps (got 10)",
        ),
        (
            {"params": {"cvd_resume_bps": 400}},
            "config: markets.0.params: cvd_resume_bps must be below cvd_trip_bps (hysteresis)",
        ),
        (
            {"params": {"typo_bps": 1}},
            f"config: markets.0.params: unknown parameter 'typo_bps'; known: {', '.join(P.BY_NAME)}",
        ),
        (
            {"params": {"t_dlp_s": 3_600, "t_buffer_s": 60}},
            (
                "config: markets.0.params: halt window N = max(t_dlp_s, t_priority_s) + t_buffer_s = 3660 s "
                "must be "
                "between 60 and 3600 s"
            ),
        ),
        ({"venue": {}}, "config: markets.0.venue: give exactly one of 'address' or 'mock'"),
        (
            {"venue": {"mock": {"price": -1, "depth_usd": 1}}},
            "config: markets.0.venue.mock.price: Input should be greater than 0",
        ),
        (
            {"oracle": {"quorum": 3, "feeds": [{"mock": {"decimals": 8, "answer": 1}, "heartbeat": 3600}]}},
            "config: markets.0.oracle: quorum 3 is more than the 1 feeds configured",
        ),
        (
            {"oracle": {"quorum": 1, "feeds": [{"mock": {"decimals": 8, "answer": 1}, "heartbeat": 5}]}},
            "config: markets.0.oracle.feeds.0.heartbeat: Input should be greater than or equal to 60",
        ),
    ],
)
@pytest.mark.bad_input
def test_parse_config__bad_market_field(changes, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(_market(**changes))
    assert str(exc.value) == message


MOCK_FEED = {"mock": {"decimals": 8, "answer": 1}, "heartbeat": 3600}


@pytest.mark.parametrize(
    "oracle, message",
    [
        (
            {"quorum": 1, "feeds": [MOCK_FEED] * 2},
            (
                "config: markets.0.oracle: feeds: 2 configured let one bad feed steer the reference (the "
                "median of two is "
                "their mean); configure at least 3"
            ),
        ),
        (
            {"quorum": 2, "feeds": [MOCK_FEED] * 2},
            (
                "config: markets.0.oracle: feeds: 2 configured let one bad feed steer the reference (the "
                "median of two is "
                "their mean); configure at least 3"
            ),
        ),
        (
            {"quorum": 1, "feeds": [MOCK_FEED] * 3},
            (
                "config: markets.0.oracle: quorum: 1 of 3 feeds is not a majority, so feeds that disagree "
                "could each make a "
                "quorum; set it to at least 2"
            ),
        ),
        (
            {"quorum": 2, "feeds": [MOCK_FEED] * 4},
            (
                "config: markets.0.oracle: quorum: 2 of 4 feeds is not a majority, so feeds that disagree "
                "could each make a "
                "quorum; set it to at least 3"
            ),
        ),
        (
            {"quorum": 2, "max_spread_bps": 5, "feeds": [MOCK_FEED] * 3},
            "config: markets.0.oracle.max_spread_bps: Input should be greater than or equal to 10",
        ),
        (
            {"quorum": 2, "max_spread_bps": 5_001, "feeds": [MOCK_FEED] * 3},
            "config: markets.0.oracle.max_spread_bps: Input should be less than or equal to 5000",
        ),
    ],
)
@pytest.mark.threat
def test_parse_config__steerable_oracle_refused(oracle, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(_market(oracle=oracle))
    assert str(exc.value) == message


def test_parse_config__shipped_oracle_outvotes_one_feed():
    oracle = load_config(LOCAL).markets[0].oracle
    assert len(oracle.feeds) >= 3 and 2 * oracle.quorum > len(oracle.feeds)
    assert oracle.max_spread_bps == 200


def test_load_config__missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_load_config__not_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("governance: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_resolve__defaults_are_consistent():
    values = P.resolve()
    assert P.halt_window(values) == 360
    assert len(P.as_array(values)) == len(P.PARAMS)
