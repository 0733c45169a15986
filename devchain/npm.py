"""Third-party contracts from npm build artifacts (Uniswap V2, WETH9, Aave v3, OpenZeppelin): their ABI
and creation bytecode, as plain values for web3 or as an ape ContractContainer (ape is imported only for
the latter). Libraries are linked from the artifact's `linkReferences` (hardhat layout). Used by the
venue tests, the fork suite's upstream, the pool benchmark and the Aave v3 market (devchain/aave.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


def npm_artifact(path: str, libraries: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str]:
    """ABI and 0x-prefixed creation bytecode of `node_modules/<path>` (truffle, hardhat or solc standard
    layout), with every library in its `linkReferences` replaced by its address in `libraries` (by name)."""
    artifact = json.loads((NODE_MODULES / path).read_text())
    code = (artifact.get("bytecode") or artifact["evm"]["bytecode"]["object"]).removeprefix("0x")
    references = artifact.get("linkReferences") or {}
    return artifact["abi"], "0x" + _link(code, references, libraries or {}, path)


def _link(
    code: str, references: dict[str, dict[str, list[dict[str, int]]]], libraries: dict[str, str], path: str
) -> str:
    for by_name in references.values():
        for name, places in by_name.items():
            if name not in libraries:
                raise KeyError(f"{path} needs library {name} linked; give its address")
            address = libraries[name].removeprefix("0x").lower()
            for place in places:
                start = 2 * place["start"]
                code = code[:start] + address + code[start + 2 * place["length"] :]
    return code


def npm_container(path: str, name: str, libraries: dict[str, str] | None = None) -> Any:
    """An ape ContractContainer for `node_modules/<path>`, deployable with `account.deploy(container)`."""
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    abi, bytecode = npm_artifact(path, libraries)
    return ContractContainer(
        ContractType.model_validate(
            {"contractName": name, "abi": abi, "deploymentBytecode": {"bytecode": bytecode}}
        )
    )


def chainlink_mock_v3() -> tuple[list[dict[str, Any]], str]:
    """Chainlink's MockV3Aggregator from @chainlink/contracts@0.1.9 (`latestAnswer`, `latestRoundData`,
    `getRoundData`, `updateAnswer`): ABI file plus the bytecode of its ethers factory."""
    base = NODE_MODULES / "@chainlink" / "contracts"
    abi = json.loads((base / "abi/v0.7/MockV3Aggregator.json").read_text())["compilerOutput"]["abi"]
    factory = (base / "ethers/v0.7/factories/MockV3Aggregator__factory.js").read_text()
    found = re.search(r'_bytecode = "(0x[0-9a-fA-F]+)"', factory)
    if found is None:
        raise RuntimeError("MockV3Aggregator__factory.js has no _bytecode: another @chainlink/contracts?")
    return abi, found.group(1)


def chainlink_mock_container() -> Any:
    """An ape ContractContainer of Chainlink's MockV3Aggregator (constructor: decimals, initial answer)."""
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    abi, bytecode = chainlink_mock_v3()
    return ContractContainer(
        ContractType.model_validate(
            {"contractName": "MockV3Aggregator", "abi": abi, "deploymentBytecode": {"bytecode": bytecode}}
        )
    )
