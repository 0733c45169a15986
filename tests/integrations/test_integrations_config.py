"""The deploy config's optional `integrations:` and `governance: {timelock: ...}` sections: valid forms
parse, a bad field gives one line naming it, and the existing format stays valid."""

from pathlib import Path

import pytest
import yaml

from deployment.integrations import GovernanceConfig
from deployment.system import ConfigError, load_config, parse_config

LOCAL = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
PROVIDER = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
USDE = "0x4c9EDD5852cd905f086C759E8383e09bff1E68B3"
PROPOSER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _config(**changes):
    raw = yaml.safe_load(LOCAL.read_text())
    raw.update(changes)
    return raw


def _integrations(**changes):
    section = {
        "feeds": [{"market": "USDe/USDC", "oracle_feed": 0}],
        "aave_stewards": [{"market": "USDe/USDC", "addresses_provider": PROVIDER, "asset": USDE}],
    }
    section.update(changes)
    return section


def _timelock(**changes):
    timelock = {"min_delay_s": 86_400, "proposers": [PROPOSER], "executors": [PROPOSER]}
    timelock.update(changes)
    return {"timelock": timelock}


def test_parse_config__without_the_new_sections_is_unchanged():
    config = load_config(LOCAL)
    assert config.integrations is None
    assert config.timelock is None
    assert config.governance == PROPOSER


def test_parse_config__integrations_and_timelock():
    config = parse_config(_config(integrations=_integrations(), governance=_timelock()))
    assert isinstance(config.governance, GovernanceConfig)
    assert config.timelock.min_delay_s == 86_400
    assert config.integrations.feeds[0].oracle_feed == 0
    assert config.integrations.feeds[0].frozen_in_grace
    assert config.integrations.aave_stewards[0].asset == USDE


@pytest.mark.parametrize(
    "integrations, message",
    [
        (
            _integrations(feeds=[{"market": "USDe/USDT", "oracle_feed": 0}]),
            "config: integrations: feeds.0.market: unknown market 'USDe/USDT' (markets: USDe/USDC)",
        ),
        (
            _integrations(aave_stewards=[{"market": "ETH", "addresses_provider": PROVIDER, "asset": USDE}]),
            "config: integrations: aave_stewards.0.market: unknown market 'ETH' (markets: USDe/USDC)",
        ),
        (
            _integrations(feeds=[{"market": "USDe/USDC"}]),
            "config: integrations.feeds.0: give exactly one of 'underlying' or 'oracle_feed'",
        ),
        (
            _integrations(feeds=[{"market": "USDe/USDC", "oracle_feed": 7}]),
            "config: integrations.feeds.0.oracle_feed: Input should be less than or equal to 6",
        ),
        (
            _integrations(feeds=[{"market": "USDe/USDC", "underlying": "0x12"}]),
            "config: integrations.feeds.0.underlying: not an address: '0x12'",
        ),
        (
            _integrations(
                aave_stewards=[{"market": "USDe/USDC", "addresses_provider": "0x" + "00" * 20, "asset": USDE}]
            ),
            "config: integrations.aave_stewards.0.addresses_provider: the zero address cannot be an "
            "addresses provider",
        ),
        (
            _integrations(aave_stewards=[{"market": "USDe/USDC", "asset": USDE}]),
            "config: integrations.aave_stewards.0.addresses_provider: Field required",
        ),
        (
            _integrations(v4_hooks=[{"market": "USDe/USDC", "collateral": "0x12", "debt": USDE}]),
            "config: integrations.v4_hooks.0.collateral: not an address: '0x12'",
        ),
        (
            _integrations(feeds=[{"market": "USDe/USDC", "oracle_feed": 3}]),
            (
                "config: integrations: feeds.0.oracle_feed: market 'USDe/USDC' has 3 oracle feed(s), "
                "numbered from 0 "
                "(got 3)"
            ),
        ),
        (
            _integrations(
                aave_stewards=[{"market": "USDe/USDC", "addresses_provider": PROVIDER, "asset": USDE}] * 2
            ),
            (
                f"config: integrations: aave_stewards.1: a second steward for reserve {USDE} of {PROVIDER} "
                "(one reserve, one steward)"
            ),
        ),
    ],
)
def test_parse_config__bad_integration_names_the_field(integrations, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(_config(integrations=integrations))
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "governance, message",
    [
        (
            _timelock(min_delay_s=0),
            "config: governance: timelock.min_delay_s: Input should be greater than or equal to 60",
        ),
        (
            _timelock(min_delay_s=31 * 86_400),
            "config: governance: timelock.min_delay_s: Input should be less than or equal to 2592000",
        ),
        (
            _timelock(proposers=[]),
            "config: governance: timelock.proposers: List should have at least 1 item after validation, not "
            "0",
        ),
        (
            _timelock(proposers=["0x" + "00" * 20]),
            "config: governance: timelock.proposers: the zero address cannot be a proposer",
        ),
        (_timelock(executors=["nobody"]), "config: governance: timelock.executors: not an address: 'nobody'"),
        (
            {"timelock": {"min_delay_s": 60, "proposers": [PROPOSER]}},
            "config: governance: timelock.executors: Field required",
        ),
        ({"multisig": PROPOSER}, "config: governance: timelock: Field required"),
        (7, "config: governance: give an address or {timelock: {min_delay_s, proposers, executors}}"),
    ],
)
def test_parse_config__bad_timelock_names_the_field(governance, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(_config(governance=governance))
    assert str(exc.value) == message


def test_parse_config__zero_address_executor_means_anyone():
    config = parse_config(_config(governance=_timelock(executors=["0x" + "00" * 20])))
    assert config.timelock.executors == ["0x" + "00" * 20]
