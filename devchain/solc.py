"""Solidity contracts built from their npm sources with the npm `solc` compiler (solc-js).

Uniswap v4 core and Morpho Blue ship their Solidity sources on npm; solc-js ships the compiler as
JavaScript, so nothing is downloaded at build time. A build compiles a few entry files with the
settings the project's own foundry.toml pins (via-IR, optimizer runs, EVM version) and caches the
standard-JSON output in .build/npm-solc/, keyed by a hash of every .sol file of the package, the
compiler's version and the settings: a change to any of them rebuilds. `python -m
devchain.solc` builds everything (`make compile` runs it); `contracts(build)` builds lazily.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
CACHE = ROOT / ".build" / "npm-solc"
COMPILER_SCRIPT = ROOT / "tools" / "npm_solc.js"


class BuildError(RuntimeError):
    """solc-js reported errors, or a package or compiler is missing; the message says which."""


@dataclass(frozen=True)
class SolidityBuild:
    """One compilation: entry files of one npm package, one compiler, one set of settings."""

    name: str
    package: str  # npm package holding the sources, e.g. "@uniswap/v4-core"
    compiler: str  # npm package of the compiler, e.g. "solc" or the alias "solc-0.8.19"
    compiler_version: str  # what the sources pin; checked against the installed compiler
    sources: tuple[str, ...]  # entry files relative to the package root
    via_ir: bool
    optimizer_runs: int
    evm_version: str
    remappings: tuple[str, ...] = field(default=())

    def standard_json(self) -> dict[str, Any]:
        root = NODE_MODULES / self.package
        return {
            "language": "Solidity",
            "sources": {src: {"content": (root / src).read_text()} for src in self.sources},
            "settings": {
                "viaIR": self.via_ir,
                "optimizer": {"enabled": True, "runs": self.optimizer_runs},
                "evmVersion": self.evm_version,
                "metadata": {"bytecodeHash": "none"},
                "remappings": list(self.remappings),
                "outputSelection": {
                    "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
                },
            },
        }


# v4-core's foundry.toml: solc 0.8.26, via_ir, optimizer_runs 44444444, cancun, bytecode_hash none.
# PoolSwapTest and PoolModifyLiquidityTest are the package's own routers for driving a PoolManager.
V4_CORE = SolidityBuild(
    name="v4-core",
    package="@uniswap/v4-core",
    compiler="solc",
    compiler_version="0.8.26",
    sources=("src/PoolManager.sol", "src/test/PoolSwapTest.sol", "src/test/PoolModifyLiquidityTest.sol"),
    via_ir=True,
    optimizer_runs=44_444_444,
    evm_version="cancun",
    remappings=(
        "solmate/=lib/solmate/",
        "forge-std/=lib/forge-std/src/",
        "@openzeppelin/=lib/openzeppelin-contracts/",
    ),
)

# Morpho Blue pins solc 0.8.19 and builds with via_ir and 999999 optimizer runs (paris: 0.8.19 predates
# cancun).
MORPHO_BLUE = SolidityBuild(
    name="morpho-blue",
    package="@morpho-org/morpho-blue",
    compiler="solc-0.8.19",
    compiler_version="0.8.19",
    sources=("src/Morpho.sol",),
    via_ir=True,
    optimizer_runs=999_999,
    evm_version="paris",
)

BUILDS = (V4_CORE, MORPHO_BLUE)


def _installed_version(compiler: str) -> str:
    manifest = NODE_MODULES / compiler / "package.json"
    if not manifest.is_file():
        raise BuildError(f"npm compiler {compiler!r} is not installed: run `npm install`")
    return json.loads(manifest.read_text())["version"]


def cache_key(build: SolidityBuild) -> str:
    """Hash of every .sol file of the package, the compiler version and the settings."""
    root = NODE_MODULES / build.package
    if not root.is_dir():
        raise BuildError(f"npm package {build.package!r} is not installed: run `npm install`")
    digest = hashlib.sha256()
    digest.update(_installed_version(build.compiler).encode())
    settings = build.standard_json()["settings"]
    digest.update(json.dumps([build.sources, settings], sort_keys=True).encode())
    for path in sorted(p for p in root.rglob("*.sol") if p.is_file()):  # out/ holds folders named X.sol
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compile_build(build: SolidityBuild) -> tuple[Path, float]:
    """Compiles (or finds in the cache) one build; returns its output file and the seconds spent."""
    installed = _installed_version(build.compiler)
    if installed != build.compiler_version:
        raise BuildError(
            f"{build.name} needs solc {build.compiler_version}, npm {build.compiler!r} is {installed}"
        )
    out = CACHE / f"{build.name}-{cache_key(build)}.json"
    if out.is_file():
        return out, 0.0
    started = time.perf_counter()
    result = subprocess.run(
        ["node", str(COMPILER_SCRIPT), build.compiler, str(NODE_MODULES / build.package)],
        input=json.dumps(build.standard_json()),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"solc-js failed on {build.name}: {result.stderr.strip()[-2000:]}")
    output = json.loads(result.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise BuildError(f"{build.name} does not compile:\n" + "\n".join(errors))
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".tmp")
    partial.write_text(json.dumps(output["contracts"]))
    partial.replace(out)  # never leave a half-written artifact under the final name
    return out, time.perf_counter() - started


def contracts(build: SolidityBuild) -> dict[str, dict[str, Any]]:
    """{contract name: {"abi", "bytecode", "runtime"}} of every contract with code in the build."""
    path, _ = compile_build(build)
    found: dict[str, dict[str, Any]] = {}
    for units in json.loads(path.read_text()).values():
        for name, unit in units.items():
            code = unit["evm"]["bytecode"]["object"]
            if code:
                found[name] = {
                    "abi": unit["abi"],
                    "bytecode": "0x" + code,
                    "runtime": "0x" + unit["evm"]["deployedBytecode"]["object"],
                }
    return found


def container(build: SolidityBuild, name: str):
    """An ape ContractContainer for one compiled contract (deploy it with `.deploy(..., sender=)`)."""
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    unit = contracts(build)[name]
    return ContractContainer(
        ContractType.model_validate(
            {
                "contractName": name,
                "abi": unit["abi"],
                "deploymentBytecode": {"bytecode": unit["bytecode"]},
                "runtimeBytecode": {"bytecode": unit["runtime"]},
            }
        )
    )


def main() -> None:
    for build in BUILDS:
        path, seconds = compile_build(build)
        status = f"compiled in {seconds:.1f} s" if seconds else "cached"
        print(f"{build.name}: {status} -> {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
