"""Forked-mainnet suite: the same tests against real mainnet (FORK_RPC_URL) or an offline stand-in.

Offline (default, CI): tests/fork/upstream.py starts an anvil with chain id 1 seeded at the
mainnet addresses with real third-party bytecode. Online: FORK_RPC_URL names an archive node and
the suite forks mainnet at addresses.MAINNET_BLOCK. Either way ape connects through
`ethereum:mainnet-fork:foundry` with the `node` provider as upstream, as an auditor would.

Run with `make test-fork` (`ape test tests/fork --disable-isolation`): ape's own isolation
snapshots the network it started on, so this suite snapshots the fork itself, per test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from ape import accounts, chain, config, networks

from tests.fork import addresses as A
from tests.fork import upstream


@dataclass(frozen=True)
class Fork:
    online: bool
    block_number: int
    venue_kind: str  # "uniswap-v2" offline, "curve" online
    pair: str | None  # the seeded USDe/USDC Uniswap V2 pair (offline)


@pytest.fixture(scope="session", autouse=True)
def fork():
    rpc = os.environ.get("FORK_RPC_URL")
    stand_in = None if rpc else upstream.start()
    uri = rpc or stand_in.uri
    block = A.MAINNET_BLOCK if rpc else stand_in.block_number
    config.get_config("node").ethereum.mainnet["uri"] = uri
    settings = {
        "fork": {
            "ethereum": {
                "mainnet": {"upstream_provider": "node", "block_number": block, "evm_version": "prague"}
            }
        }
    }
    try:
        with networks.ethereum.mainnet_fork.use_provider("foundry", provider_settings=settings):
            assert chain.chain_id == 1 and chain.blocks.head.number >= block
            yield Fork(
                online=bool(rpc),
                block_number=block,
                venue_kind="curve" if rpc else "uniswap-v2",
                pair=None if rpc else stand_in.usde_usdc_pair,
            )
    finally:
        if stand_in:
            stand_in.stop()


@pytest.fixture(autouse=True)
def _fork_isolation(fork):
    snapshot = chain.snapshot()
    yield
    chain.restore(snapshot)


def impersonate(address: str):
    """An impersonated mainnet account with gas money, as on any fork."""
    account = accounts[address]
    chain.set_balance(address, 100 * 10**18)
    return account


@pytest.fixture(scope="session")
def deployer():
    return accounts.test_accounts[0]


@pytest.fixture(scope="session")
def anyone():
    return accounts.test_accounts[4]


@pytest.fixture(scope="session")
def governance():
    return impersonate(A.GOVERNANCE)


@pytest.fixture(scope="session")
def guardian():
    return accounts.test_accounts[2]


@pytest.fixture(scope="session")
def keeper():
    return accounts.test_accounts[3]


@pytest.fixture(scope="session")
def usde_whale():
    return impersonate(A.USDE_WHALE)


@pytest.fixture(scope="session")
def usdc_whale():
    return impersonate(A.USDC_WHALE)


@pytest.fixture(scope="session")
def tokens(project):
    """USDe and USDC at their mainnet addresses, read through a plain ERC-20 ABI."""
    return project.FaucetToken.at(A.USDE), project.FaucetToken.at(A.USDC)


@pytest.fixture(scope="session")
def venue(project, fork, deployer):
    """The breaker's venue: the real Curve USDe/USDC pool online, the seeded Uniswap V2 pair offline."""
    if fork.venue_kind == "curve":
        usde_index = 0 if project.MockCurvePool.at(A.CURVE_USDE_USDC).coins(0) == A.USDE else 1
        return project.CurveStableswapVenue.deploy(
            A.CURVE_USDE_USDC, usde_index, 1 - usde_index, sender=deployer
        )
    return project.UniswapV2Venue.deploy(fork.pair, A.USDE, sender=deployer)


@pytest.fixture(scope="session")
def pair(fork):
    """The seeded Uniswap V2 USDe/USDC pair (offline only), through the npm ABI."""
    if fork.pair is None:
        pytest.skip("the Uniswap V2 pair is seeded by the offline upstream only")
    return chain.contracts.instance_at(fork.pair, contract_type=uniswap_v2_pair_type())


def uniswap_v2_pair_type():
    import json

    from ethpm_types import ContractType

    artifact = json.loads((upstream.NPM / "@uniswap/v2-core/build/UniswapV2Pair.json").read_text())
    return ContractType.model_validate({"contractName": "UniswapV2Pair", "abi": artifact["abi"]})
