"""The deployment as governance runs it: config in, roles handed over, deployer powerless."""

import subprocess
import sys
from pathlib import Path

import pytest

from deployment.system import ConfigError, deploy, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployment(project, deployer):
    return deploy(load_config(ROOT / "config" / "local.yaml"), deployer, project, log=lambda _: None)


@pytest.mark.threat
def test_deploy__roles_handed_over(deployment, deployer):
    breaker = deployment.breaker
    config = load_config(ROOT / "config" / "local.yaml")
    assert breaker.hasRole(breaker.GOVERNANCE_ROLE(), config.governance)
    assert breaker.hasRole(breaker.GUARDIAN_ROLE(), config.guardian)
    assert all(breaker.hasRole(breaker.KEEPER_ROLE(), k) for k in config.keepers)
    assert not breaker.hasRole(breaker.GOVERNANCE_ROLE(), deployer)
    assert deployment.markets[0].oracle.owner() == config.governance


def test_deploy__market_registered_with_median_reference(deployment):
    breaker = deployment.breaker
    assert breaker.market_count() == 1
    assert breaker.state(0) == 1
    # feeds 1.0, 0.9998 and 1.0001, all within the 200 bps spread: the median is the middle one
    assert breaker.indicators(0).reference == 10**18
    assert deployment.markets[0].oracle.max_spread_bps() == 200


def test_deploy__refuses_mocks_on_live_network(project, deployer):
    with pytest.raises(ConfigError, match="mock venues and feeds are for local chains only"):
        deploy(load_config(ROOT / "config" / "local.yaml"), deployer, project, live=True)


@pytest.mark.bad_input
def test_deploy_script__bad_config_exits_with_named_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "config" / "local.yaml").read_text().replace("params: {}", "params: {cvd_trip_bps: 1}")
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ape"), "run", "deploy", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert "markets.0.params: cvd_trip_bps must be between 50 and 5,000 bps (got 1)" in result.stderr
