"""Contract ABIs (and bytecode, for local deployments) from ape's build output.

`make compile` writes `.build/__local__.json`; its `contractTypes.<Name>` entries hold the ABI
and the deployment bytecode. The keeper reads only the ABI, so it runs with web3.py alone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_BUILD = Path(__file__).resolve().parent.parent / ".build" / "__local__.json"


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
        raise AbiError(f"contract {name} not in {build or DEFAULT_BUILD}; compiled: {', '.join(sorted(types))}")
    return types[name]


def load_abi(name: str, build: str | Path | None = None) -> list[dict[str, Any]]:
    """The ABI of contract `name` (e.g. "CircuitBreaker")."""
    return contract_type(name, build)["abi"]


def load_bytecode(name: str, build: str | Path | None = None) -> str:
    """The deployment bytecode of contract `name` (local chains only)."""
    code = contract_type(name, build)["deploymentBytecode"]
    return code["bytecode"] if isinstance(code, dict) else code
