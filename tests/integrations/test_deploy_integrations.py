"""The deploy script's path with `integrations:` and a governance timelock: the feed and steward wired to
their market, every governance power in the timelock, a parameter change proposed, waited and executed."""

import subprocess
import sys
from pathlib import Path

import ape
import pytest
import yaml
from ape import chain

from deployment.system import GOVERNANCE_ROLE, ConfigError, deploy, parse_config
from devchain.aave import deploy_core, list_reserve
from keeper import params as P

LOCAL = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
DELAY_S = 3_600


@pytest.fixture(scope="module")
def aave_core(governance):
    """An Aave market of this module's own (the shared one lists its reserves elsewhere)."""
    return deploy_core(governance)


@pytest.fixture(scope="module")
def listed_usde(project, deployer, aave_core, create_feed):
    usde = project.FaucetToken.deploy("USDe", "USDe", 18, sender=deployer)
    list_reserve(aave_core, usde, create_feed(1.0, 8), ltv=7_200, threshold=7_500, bonus=10_850)
    return usde


def _config(governance, aave_core, asset, **integrations):
    raw = yaml.safe_load(LOCAL.read_text())
    raw["governance"] = {
        "timelock": {
            "min_delay_s": DELAY_S,
            "proposers": [governance.address],
            "executors": [governance.address],
        }
    }
    raw["integrations"] = {
        "feeds": [{"market": "USDe/USDC", "oracle_feed": 0}],
        "aave_stewards": [
            {"market": "USDe/USDC", "addresses_provider": aave_core.provider.address, "asset": asset}
        ],
        **integrations,
    }
    return parse_config(raw)


@pytest.fixture(scope="module")
def deployment(project, deployer, governance, aave_core, listed_usde):
    return deploy(_config(governance, aave_core, listed_usde.address), deployer, project, log=lambda _: None)


def test_deploy__timelock_holds_every_governance_power(deployment, deployer, governance):
    breaker, timelock = deployment.breaker, deployment.integrations.timelock
    assert deployment.governance == timelock.address
    assert breaker.hasRole(GOVERNANCE_ROLE, timelock)
    assert not breaker.hasRole(GOVERNANCE_ROLE, deployer)
    assert not breaker.hasRole(GOVERNANCE_ROLE, governance)
    assert deployment.markets[0].oracle.owner() == timelock.address
    assert [f.owner() for _, f in deployment.integrations.feeds] == [timelock.address]
    # The timelock administers itself alone: no deployer or proposer can skip the delay.
    assert timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), timelock)
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer)
    assert timelock.getMinDelay() == DELAY_S


def test_deploy__feed_and_steward_wired_to_the_market(deployment, aave_core, listed_usde):
    breaker = deployment.breaker
    (_, feed), (_, steward) = deployment.integrations.feeds[0], deployment.integrations.aave_stewards[0]
    assert feed.UNDERLYING() == deployment.markets[0].feeds[0].address
    assert (feed.BREAKER(), feed.MARKET_ID()) == (breaker.address, 0)
    assert breaker.consumers(0) == [steward.address]
    assert (steward.POOL(), steward.CONFIGURATOR(), steward.ASSET()) == (
        aave_core.pool.address,
        aave_core.configurator.address,
        listed_usde.address,
    )
    assert deployment.integrations.actions == [
        f"Aave ACL admin: ACLManager({aave_core.acl.address}).addRiskAdmin({steward.address})",
        (
            "Aave pool admin: "
            f"AaveOracle({aave_core.oracle.address}).setAssetSources([{listed_usde.address}], "
            f"[{feed.address}])"
        ),
    ]


def test_timelock__parameter_change_proposed_waited_executed(deployment, governance):
    breaker, timelock = deployment.breaker, deployment.integrations.timelock
    key = P.BY_NAME["cvd_trip_bps"].key
    old = breaker.params(0, key)
    call = breaker.set_param.encode_input(0, key, old + 100)
    salt = b"\x01" * 32
    timelock.schedule(breaker, 0, call, b"\x00" * 32, salt, DELAY_S, sender=governance)

    with ape.reverts():  # TimelockUnexpectedOperationState: not ready yet
        timelock.execute(breaker, 0, call, b"\x00" * 32, salt, sender=governance)
    chain.pending_timestamp += DELAY_S
    receipt = timelock.execute(breaker, 0, call, b"\x00" * 32, salt, sender=governance)

    assert breaker.params(0, key) == old + 100
    events = breaker.ParameterSet.from_receipt(receipt)
    assert [(e.actor, e.old, e.new) for e in events] == [(timelock.address, old, old + 100)]


def test_timelock__proposer_cannot_act_directly(deployment, governance):
    with ape.reverts():
        deployment.breaker.set_param(0, P.BY_NAME["cvd_trip_bps"].key, 600, sender=governance)


def test_guardian__trips_at_once_without_the_timelock(deployment, guardian):
    deployment.breaker.guardian_trip(0, sender=guardian)
    assert deployment.breaker.state(0) == 2


def test_deploy__steward_for_an_unlisted_asset_names_the_field(project, deployer, governance, aave_core):
    unlisted = project.FaucetToken.deploy("USD Coin", "USDC", 6, sender=deployer)
    with pytest.raises(
        ConfigError, match=r"^integrations.aave_stewards.0.asset: .* is not a reserve of pool"
    ):
        deploy(_config(governance, aave_core, unlisted.address), deployer, project, log=lambda _: None)


def test_deploy_script__bad_integration_exits_with_named_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    raw = yaml.safe_load(LOCAL.read_text())
    raw["integrations"] = {"feeds": [{"market": "ETH/USDC", "oracle_feed": 0}]}
    bad.write_text(yaml.safe_dump(raw))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ape"), "run", "deploy", "--config", str(bad)],
        cwd=LOCAL.parents[1],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert "integrations: feeds.0.market: unknown market 'ETH/USDC' (markets: USDe/USDC)" in result.stderr


def test_deploy__v4_hook_from_the_integrations_section(project, deployer, governance, aave_core, listed_usde):
    collateral = project.MockERC20.deploy("Mock USDe", "USDe", 18, sender=deployer)
    debt = project.MockERC20.deploy("Mock USDC", "USDC", 6, sender=deployer)
    hooks = [{"market": "USDe/USDC", "collateral": collateral.address, "debt": debt.address}]
    deployed = deploy(
        _config(governance, aave_core, listed_usde.address, v4_hooks=hooks),
        deployer,
        project,
        log=lambda _: None,
    )
    [(market, guarded)] = deployed.integrations.v4_hooks
    timelock = deployed.integrations.timelock
    assert market == "USDe/USDC"
    assert guarded.hook.address in deployed.breaker.consumers(deployed.markets[0].market_id)
    assert guarded.hook.owner() == timelock.address  # the band's owner is governance, not the deployer
    assert deployed.integrations.to_json()["v4_hooks"][0]["hook"] == str(guarded.hook.address)


def test_parse_config__v4_hook_for_an_unknown_market_names_the_entry(governance, aave_core, listed_usde):
    hooks = [{"market": "USDe/USDT", "collateral": "0x" + "11" * 20, "debt": "0x" + "22" * 20}]
    with pytest.raises(ConfigError, match=r"v4_hooks\.0\.market: unknown market 'USDe/USDT'"):
        _config(governance, aave_core, listed_usde.address, v4_hooks=hooks)
