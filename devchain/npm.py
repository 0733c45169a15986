"""Third-party contracts from npm build artifacts (Uniswap V2, WETH9): their ABI and creation bytecode,
as plain values for web3 or as an ape ContractContainer (ape is imported only for the latter). Used by
the venue tests, the fork suite's upstream and the pool benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


def npm_artifact(path: str) -> tuple[list[dict[str, Any]], str]:
    """ABI and 0x-prefixed creation bytecode of `node_modules/<path>` (truffle or solc standard layout)."""
    artifact = json.loads((NODE_MODULES / path).read_text())
    code = artifact.get("bytecode") or artifact["evm"]["bytecode"]["object"]
    return artifact["abi"], "0x" + code.removeprefix("0x")


def npm_container(path: str, name: str) -> Any:
    """An ape ContractContainer for `node_modules/<path>`, deployable with `account.deploy(container)`."""
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    abi, bytecode = npm_artifact(path)
    return ContractContainer(ContractType.model_validate(
        {"contractName": name, "abi": abi, "deploymentBytecode": {"bytecode": bytecode}}))
