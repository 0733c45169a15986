"""`ape run deploy --config FILE [--network ...] [--account ALIAS] [--out FILE]`

Deploys the reference oracles and the breaker from a validated YAML config, hands every
role to the configured accounts, renounces the deployer's powers and prints a summary.
"""

from __future__ import annotations

import sys

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand

from deployment.report import print_markets
from deployment.system import ConfigError, deploy, load_config, write_deployment


@click.command(cls=ConnectedProviderCommand)
@click.option("--config", "config_path", required=True, help="YAML deploy config (see config/local.yaml)")
@click.option(
    "--account",
    "alias",
    default=None,
    help="ape account alias of the deployer (default on local: test account 0)",
)
@click.option("--out", default=None, help="write the deployed addresses as JSON here")
def cli(network, config_path: str, alias: str | None, out: str | None):
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    local = network.is_local
    if alias:
        deployer = accounts.load(alias)
    elif local:
        deployer = accounts.test_accounts[0]
    else:
        click.echo("error: --account ALIAS is required on a live network", err=True)
        sys.exit(2)
    try:
        deployment = deploy(config, deployer, project, live=not local, log=click.echo)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    print_markets(deployment, config, echo=click.echo)
    if out:
        write_deployment(deployment, out)
        click.echo(f"addresses written to {out}")
