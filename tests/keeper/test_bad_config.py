"""Bad keeper configuration: zero, negative, huge and malformed values, and values in the wrong unit. Each
stops the keeper with one line that names the field, what is expected, the value and the environment
variable. Values that are accepted but should not be are marked xfail with the error they should give."""

from __future__ import annotations

import pytest

from devchain import dev_key
from keeper.config import ConfigError, load_settings

pytestmark = pytest.mark.bad_input

BREAKER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def settings(monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("KEEPER_"):
            monkeypatch.delenv(k)

    def settings(**fields):
        values = {
            "breaker": BREAKER,
            "rpc_urls": ["http://127.0.0.1:8545"],
            "markets": [{"id": 0, "name": "usde"}],
            "private_key": dev_key(1),
        }
        values.update(fields)
        return load_settings(None, **{k: v for k, v in values.items() if v is not None})

    return settings


def cex(**venue):
    return [{"id": 0, "name": "usde", "cex": [dict({"exchange": "binance", "symbol": "USDE/USDT"}, **venue)]}]


def lce(**model):
    return [{"id": 0, "name": "usde", "lce": model}]


@pytest.mark.parametrize(
    "fields, expected",
    [
        # zero and negative
        (
            {"rpc_timeout_s": 0},
            "rpc_timeout_s: Input should be greater than 0 (got 0) [env KEEPER_RPC_TIMEOUT_S]",
        ),
        (
            {"poll_interval_s": -1},
            "poll_interval_s: Input should be greater than 0 (got -1) [env KEEPER_POLL_INTERVAL_S]",
        ),
        (
            {"chain_id": 0},
            "chain_id: Input should be greater than or equal to 1 (got 0) [env KEEPER_CHAIN_ID]",
        ),
        (
            {"thresholds": {"max_age_s": 0}},
            "thresholds.max_age_s: Input should be greater than 0 (got 0) [env KEEPER_THRESHOLDS__MAX_AGE_S]",
        ),
        (
            {"thresholds": {"outlier_bps": -1}},
            "thresholds.outlier_bps: Input should be greater than or equal to 1 (got -1) [env "
            "KEEPER_THRESHOLDS__OUTLIER_BPS]",
        ),
        (
            {"fees": {"history_blocks": 0}},
            "fees.history_blocks: Input should be greater than or equal to 1 (got 0) [env "
            "KEEPER_FEES__HISTORY_BLOCKS]",
        ),
        (
            {"fees": {"urgency_trip": 0}},
            "fees.urgency_trip: Input should be greater than or equal to 1 (got 0) [env "
            "KEEPER_FEES__URGENCY_TRIP]",
        ),
        (
            {"fees": {"max_fee_gwei": 0}},
            "fees.max_fee_gwei: Input should be greater than 0 (got 0) [env KEEPER_FEES__MAX_FEE_GWEI]",
        ),
        (
            {"markets": [{"id": -1, "name": "a"}]},
            "markets.0.id: Input should be greater than or equal to 0 (got -1)",
        ),
        ({"markets": cex(weight=0)}, "markets.0.cex.0.weight: Input should be greater than 0 (got 0)"),
        (
            {"markets": cex(calm_depth_usd=-1)},
            "markets.0.cex.0.calm_depth_usd: Input should be greater than 0 (got -1)",
        ),
        (
            {"markets": lce(move_bps=0)},
            "markets.0.lce.move_bps: Input should be greater than or equal to 10 (got 0)",
        ),
        (
            {"markets": lce(leverage_shares={0.5: 1.0})},
            "markets.0.lce.leverage_shares: leverage must be >= 1 and shares >= 0",
        ),
        (
            {"markets": lce(leverage_shares={2: 1.5, 5: -0.5})},
            "markets.0.lce.leverage_shares: leverage must be >= 1 and shares >= 0",
        ),
        (
            {"markets": lce(from_block=-1)},
            "markets.0.lce.from_block: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            {"markets": []},
            "markets: List should have at least 1 item after validation, not 0 [env KEEPER_MARKETS]",
        ),
        # huge
        (
            {"rpc_timeout_s": 1e9},
            "rpc_timeout_s: Input should be less than or equal to 120 (got 1000000000.0) [env "
            "KEEPER_RPC_TIMEOUT_S]",
        ),
        (
            {"fees": {"bump_percent": 500}},
            "fees.bump_percent: Input should be less than or equal to 200 (got 500) [env "
            "KEEPER_FEES__BUMP_PERCENT]",
        ),
        (
            {"fees": {"reward_percentile": 101}},
            "fees.reward_percentile: Input should be less than or equal to 100 (got 101) [env "
            "KEEPER_FEES__REWARD_PERCENTILE]",
        ),
        (
            {"fees": {"max_priority_gwei": 600, "max_fee_gwei": 500}},
            "fees: max_priority_gwei must not exceed max_fee_gwei [env KEEPER_FEES]",
        ),
        (
            {"fees": {"min_priority_gwei": 60}},
            "fees: min_priority_gwei must not exceed max_priority_gwei [env KEEPER_FEES]",
        ),
        (
            {"markets": cex(weight=1e9)},
            "markets.0.cex.0.weight: Input should be less than or equal to 1000 (got 1000000000.0)",
        ),
        (
            {"markets": lce(oi_long_share=2)},
            "markets.0.lce.oi_long_share: Input should be less than or equal to 1 (got 2)",
        ),
        (
            {"markets": lce(log_page_blocks=10**9)},
            "markets.0.lce.log_page_blocks: Input should be less than or equal to 1000000 (got 1000000000)",
        ),
        (
            {"rpc_urls": ["http://a.example"] * 11},
            "rpc_urls: List should have at most 10 items after validation, not 11 [env KEEPER_RPC_URLS]",
        ),
        # malformed
        (
            {"markets": [{"id": 0, "name": "has space"}]},
            "markets.0.name: String should match pattern '^[A-Za-z0-9_.\\-/]+$' (got 'has space')",
        ),
        (
            {"markets": lce(lending_market="0x12")},
            "markets.0.lce.lending_market: expected a 0x-prefixed 20-byte address (got '0x12')",
        ),
        (
            {"markets": lce(lending_market=BREAKER, positions_file="positions.csv")},
            "markets.0.lce: give either positions_file or lending_market, not both",
        ),
        (
            {"simulate_block": "earliest"},
            "simulate_block: Input should be 'pending' or 'latest' (got 'earliest') [env "
            "KEEPER_SIMULATE_BLOCK]",
        ),
        (
            {"private_relay_url": "ftp://relay"},
            "private_relay_url: URL scheme should be 'http' or 'https' (got 'ftp://relay') [env "
            "KEEPER_PRIVATE_RELAY_URL]",
        ),
        (
            {"log_level": "TRACE"},
            "log_level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got 'TRACE') [env "
            "KEEPER_LOG_LEVEL]",
        ),
        (
            {"dry_run": True, "private_key": None, "from_address": "0x12"},
            "from_address: expected a 0x-prefixed 20-byte address (got '0x12') [env KEEPER_FROM_ADDRESS]",
        ),
        (
            {"metrics_port": -1},
            "metrics_port: Input should be greater than or equal to 0 (got -1) [env KEEPER_METRICS_PORT]",
        ),
    ],
)
def test_keeper_config__bad_value_names_the_field(settings, fields, expected):
    with pytest.raises(ConfigError) as err:
        settings(**fields)
    assert str(err.value) == f"environment: {expected}"


def test_keeper_config__yaml_not_a_mapping(tmp_path, settings):
    path = tmp_path / "keeper.yaml"
    path.write_text("- breaker\n- rpc_urls\n")
    with pytest.raises(ConfigError, match=f"^{path}: expected a mapping at the top level$"):
        load_settings(path)


def test_keeper_config__env_value_of_the_wrong_type_names_the_variable(settings, monkeypatch):
    monkeypatch.setenv("KEEPER_FEES__REPLACE_AFTER_BLOCKS", "three")
    with pytest.raises(ConfigError) as err:
        settings()
    assert "fees.replace_after_blocks: Input should be a valid integer" in str(err.value)
    assert "[env KEEPER_FEES__REPLACE_AFTER_BLOCKS]" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("field", ["max_fee_gwei", "max_priority_gwei"])
def test_keeper_config__fee_cap_in_wei_rejected(settings, field):
    with pytest.raises(
        ConfigError, match=f"fees.{field}: must be at most 10,000 gwei; the value is in gwei, not wei"
    ) as err:
        settings(
            fees={"max_fee_gwei": 500, "max_priority_gwei": 50 * 10**9}
            if field == "max_priority_gwei"
            else {field: 500 * 10**9}
        )
    assert "\n" not in str(err.value)


# the tip cap stays under the first-send ceiling (the cap less two +12% replacements: 7,971.9 and 0.797 gwei)
@pytest.mark.parametrize(
    "fees",
    [{"max_fee_gwei": 10_000, "max_priority_gwei": 7_000}, {"max_fee_gwei": 1, "max_priority_gwei": "0.5"}],
)
def test_keeper_config__fee_cap_up_to_the_bound_accepted(settings, fees):
    assert settings(fees=fees).fees.max_fee_gwei == fees["max_fee_gwei"]
