"""Contract ABIs: shipped inside the package, exported from ape's build output at compile time.

The keeper needs two ABIs (`KEEPER_CONTRACTS`); `make compile` writes `.build/__local__.json` and then
`python -m keeper.abi export` copies their ABIs to `keeper/abis/<Name>.json`, which the wheel ships: an
installed keeper needs neither a checkout nor a compiler. A test keeps the shipped files equal to `.build`.
Other contracts (mocks, the lending market) and deployment bytecode are read from `.build` (local chains and
tests only); `build_path` in the config reads every ABI from a build file instead.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGED = Path(__file__).resolve().parent / "abis"
DEFAULT_BUILD = Path(__file__).resolve().parent.parent / ".build" / "__local__.json"
KEEPER_CONTRACTS = ("CircuitBreaker", "ReopeningAuction")


class AbiError(RuntimeError):
    """The build output is missing or does not hold the contract asked for."""


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise AbiError(f"contract build output {p} not found: run `make compile` first")
    try:
        return json.loads(p.read_text())["contractTypes"]
    except (ValueError, KeyError) as exc:
        raise AbiError(f"{p} is not ape build output (no contractTypes): {exc}") from exc


def contract_type(name: str, build: str | Path | None = None) -> dict[str, Any]:
    types = _load(str(build or DEFAULT_BUILD))
    if name not in types:
        raise AbiError(
            f"contract {name} not in {build or DEFAULT_BUILD}; compiled: {', '.join(sorted(types))}"
        )
    return types[name]


@lru_cache(maxsize=8)
def _packaged(name: str) -> list[dict[str, Any]] | None:
    path = PACKAGED / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def load_abi(name: str, build: str | Path | None = None) -> list[dict[str, Any]]:
    """The ABI of contract `name` (e.g. "CircuitBreaker"): the packaged copy unless `build` is given."""
    if build is None and (shipped := _packaged(name)) is not None:
        return shipped
    return contract_type(name, build)["abi"]


def load_bytecode(name: str, build: str | Path | None = None) -> str:
    """The deployment bytecode of contract `name` (local chains only)."""
    code = contract_type(name, build)["deploymentBytecode"]
    return code["bytecode"] if isinstance(code, dict) else code


def render(name: str, build: str | Path | None = None) -> str:
    """The packaged file's text for contract `name`, from the build output."""
    return json.dumps(contract_type(name, build)["abi"], indent=1, sort_keys=True) + "\n"


def export(build: str | Path | None = None, target: Path = PACKAGED) -> list[Path]:
    """Writes `keeper/abis/<Name>.json` for every contract the keeper calls; returns the files written."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in KEEPER_CONTRACTS:
        path = target / f"{name}.json"
        path.write_text(render(name, build))
        written.append(path)
    _packaged.cache_clear()
    return written


if __name__ == "__main__":  # python -m keeper.abi export [build file]
    if sys.argv[1:2] != ["export"]:
        sys.exit("usage: python -m keeper.abi export [path/to/.build/__local__.json]")
    for written in export(sys.argv[2] if len(sys.argv) > 2 else None):
        print(written)
