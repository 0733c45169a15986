"""A market's `calm_depth` in the deploy config: optional, validated, and the seed of the breaker's R_L
baseline once deployed (without it the breaker seeds the settled depth of the registration block)."""

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from deployment.system import MAX_CALM_DEPTH_FACTOR, ConfigError, deploy, parse_config

LOCAL = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
WAD = 10**18
MOCK_DEPTH = 8_000_000  # config/local.yaml's mock venue, whole debt units


def _config(calm_depth=None, venue=None) -> dict:
    raw = yaml.safe_load(LOCAL.read_text())
    market = raw["markets"][0]
    if calm_depth is not None:
        market["calm_depth"] = calm_depth
    if venue is not None:
        market["venue"] = venue
    return raw


def _deploy(project, deployer, raw):
    return deploy(parse_config(raw), deployer, project, log=lambda _: None)


def test_parse_config__calm_depth_is_optional():
    assert parse_config(_config()).markets[0].calm_depth is None
    assert parse_config(_config(calm_depth="12000000.5")).markets[0].calm_depth == Decimal("12000000.5")


def test_max_calm_depth_factor__is_the_breakers(project, deployer):
    assert project.CircuitBreaker.deploy(sender=deployer).MAX_CALM_DEPTH_FACTOR() == MAX_CALM_DEPTH_FACTOR


@pytest.mark.threat
def test_deploy__calm_depth_seeds_the_baseline(project, deployer):
    """Twice the venue's depth: every baseline slot holds it, so R_L reads 50% on the calm venue."""
    breaker = _deploy(project, deployer, _config(calm_depth=2 * MOCK_DEPTH)).breaker
    assert breaker.calm_depth(0) == breaker.depth_baseline(0) == 2 * MOCK_DEPTH * WAD
    assert breaker.indicators(0).rl_bps == 5_000


def test_deploy__fractional_calm_depth_is_scaled_to_18_decimals(project, deployer):
    breaker = _deploy(project, deployer, _config(calm_depth="7999999.000000000000000001")).breaker
    assert breaker.calm_depth(0) == 7_999_999 * WAD + 1


def test_deploy__without_calm_depth_seeds_the_settled_depth(project, deployer):
    breaker = _deploy(project, deployer, _config()).breaker
    assert breaker.calm_depth(0) == breaker.depth_baseline(0) == MOCK_DEPTH * WAD
    assert breaker.indicators(0).rl_bps == 10_000


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "calm_depth, settled",
    [(MOCK_DEPTH * 10 + 1, "8,000,000"), (MOCK_DEPTH // 10 - 1, "8,000,000")],
)
def test_deploy__calm_depth_beyond_ten_times_an_address_venue_refused_before_any_transaction(
    project, deployer, calm_depth, settled
):
    """A venue given by address: its settled depth is read, and the deploy stops before its first
    transaction with the error the breaker would give at registration, naming the field."""
    venue = project.MockVenue.deploy(WAD, MOCK_DEPTH * WAD, sender=deployer)
    raw = _config(calm_depth=calm_depth, venue={"address": venue.address})
    nonce = deployer.nonce
    with pytest.raises(ConfigError) as exc:
        _deploy(project, deployer, raw)
    assert str(exc.value) == (
        f"markets.0.calm_depth: {calm_depth:,} is not within 10x of the venue's settled depth {settled} "
        "(the breaker refuses it)"
    )
    assert deployer.nonce == nonce


def test_deploy__calm_depth_at_ten_times_an_address_venue_registers(project, deployer):
    venue = project.MockVenue.deploy(WAD, MOCK_DEPTH * WAD, sender=deployer)
    raw = _config(calm_depth=MOCK_DEPTH * 10, venue={"address": venue.address})
    breaker = _deploy(project, deployer, raw).breaker
    assert breaker.calm_depth(0) == MOCK_DEPTH * 10 * WAD
