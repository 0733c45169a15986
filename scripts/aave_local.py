"""`ape run aave_local`: protect a reserve of a local Aave v3 market, step by step (docs/integrations.md).

1. Aave v3.0 from the npm artifacts, with a USDe-like collateral and a USDC-like borrowable reserve
   (standing in for the Aave market a governance team already runs).
2. The breaker system from config/local.yaml plus `integrations:` naming the Aave market: the deploy
   wires a BreakerFeed and an AaveBreakerSteward and prints what Aave's governance must still grant.
3. Aave's governance grants them: RISK_ADMIN to the steward, the feed as the collateral's price source.
4. The guardian trips the market: the reserve is frozen with LTV 0 and Aave prices the collateral at the
   frozen price; the feed is then crashed 20 % and a borrow is refused; the market reopens and Aave sees
   the live price again.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from ape import accounts, chain, project
from ape.exceptions import ContractLogicError

from deployment.system import deploy, parse_config
from devchain.aave import borrow, deploy_core, list_reserve, supply
from devchain.npm import chainlink_mock_container
from keeper import params as P

LOCAL = Path(__file__).resolve().parent.parent / "config" / "local.yaml"
USDE, USDC = 10**18, 10**6


def _reserve(core, usde) -> str:
    word = core.pool.getConfiguration(usde).data
    return f"LTV {word & 0xFFFF} bps, threshold {(word >> 16) & 0xFFFF} bps, frozen {bool((word >> 57) & 1)}"


def main():
    deployer, governance, guardian = (
        accounts.test_accounts[0],
        accounts.test_accounts[1],
        accounts.test_accounts[2],
    )
    lp, borrower = accounts.test_accounts[5], accounts.test_accounts[6]

    click.echo("1. Aave v3.0 market (npm @aave/core-v3), governance holds its ACL and pool admin roles")
    core = deploy_core(governance)
    usde = project.FaucetToken.deploy("USDe", "USDe", 18, sender=deployer)
    usdc = project.FaucetToken.deploy("USD Coin", "USDC", 6, sender=deployer)
    usde_chainlink = deployer.deploy(chainlink_mock_container(), 8, 10**8)
    list_reserve(core, usde, usde_chainlink, ltv=7_200, threshold=7_500, bonus=10_850)
    list_reserve(core, usdc, deployer.deploy(chainlink_mock_container(), 8, 10**8), borrowing=True)
    click.echo(f"   PoolAddressesProvider {core.provider.address}, USDe {usde.address}")

    click.echo("2. ape run deploy with integrations: (the market's reference is the USDe Chainlink feed)")
    raw = yaml.safe_load(LOCAL.read_text())
    raw["markets"][0]["oracle"] = {
        "quorum": 1,
        "feeds": [{"address": usde_chainlink.address, "heartbeat": 86_400}],
    }
    raw["integrations"] = {
        "feeds": [{"market": "USDe/USDC", "oracle_feed": 0}],
        "aave_stewards": [
            {"market": "USDe/USDC", "addresses_provider": core.provider.address, "asset": usde.address}
        ],
    }
    click.echo(yaml.safe_dump({"integrations": raw["integrations"]}, sort_keys=False))
    deployment = deploy(parse_config(raw), deployer, project, log=lambda line: click.echo(f"   {line}"))
    breaker, (_, feed), (_, steward) = (
        deployment.breaker,
        deployment.integrations.feeds[0],
        deployment.integrations.aave_stewards[0],
    )

    click.echo("3. Aave governance grants what the deploy printed:")
    for action in deployment.integrations.actions:
        click.echo(f"   {action}")
    core.acl.addRiskAdmin(steward, sender=governance)
    core.oracle.setAssetSources([usde], [feed], sender=governance)

    usdc.faucet(lp, 1_000_000 * USDC, sender=deployer)
    supply(core.pool, usdc, lp, 1_000_000 * USDC)
    usde.faucet(borrower, 10_000 * USDE, sender=deployer)
    supply(core.pool, usde, borrower, 10_000 * USDE)
    borrow(core.pool, usdc, borrower, 5_000 * USDC)
    click.echo(
        f"   USDe reserve: {_reserve(core, usde)}; borrower's health factor "
        f"{core.pool.getUserAccountData(borrower).healthFactor / 1e18:.3f}"
    )

    click.echo("4. The guardian trips the market; the Chainlink feed then falls 20 %")
    trip = breaker.guardian_trip(0, sender=guardian)
    usde_chainlink.updateAnswer(80_000_000, sender=deployer)
    click.echo(f"   trip gas {trip.gas_used:,}; USDe reserve: {_reserve(core, usde)}")
    click.echo(
        f"   Aave's USDe price {core.oracle.getAssetPrice(usde) / 1e8:.4f} (frozen), health factor "
        f"{core.pool.getUserAccountData(borrower).healthFactor / 1e18:.3f}"
    )
    try:  # simulated (eth_call): the same checks as the transaction
        core.pool.borrow.call(usdc, 1_000 * USDC, 2, 0, borrower, sender=borrower)
        click.echo("   a borrow would go through: the steward is not protecting the reserve")
    except ContractLogicError as err:
        click.echo(f"   borrow against the frozen price refused (Aave error {err.message})")

    # The timelock-free local config: governance reopens at once; then cool-down and auction elapse.
    breaker.force_resume(0, sender=governance)
    chain.pending_timestamp += (
        sum(breaker.params(0, P.BY_NAME[n].key) for n in ("cooldown_s", "auction_s")) + 1
    )
    reopen = breaker.sync(0, sender=governance)
    usde_chainlink.updateAnswer(80_000_000, sender=deployer)
    click.echo(f"   reopened (sync gas {reopen.gas_used:,}); USDe reserve: {_reserve(core, usde)}")
    click.echo(
        f"   Aave's USDe price {core.oracle.getAssetPrice(usde) / 1e8:.4f} (live), health factor "
        f"{core.pool.getUserAccountData(borrower).healthFactor / 1e18:.3f}"
    )
