"""Packaging: the keeper ships its ABIs and runs without ape, vyper, matplotlib or a compiled checkout."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from keeper import abi

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("ape", "ape_foundry", "ape_vyper", "vyper", "snekmate", "matplotlib", "tqdm", "pytest", "hypothesis")


def test_packaged_abis__equal_the_build():
    for name in abi.KEEPER_CONTRACTS:
        shipped = (abi.PACKAGED / f"{name}.json").read_text()
        assert shipped == abi.render(name), (
            f"keeper/abis/{name}.json is stale: run `python -m keeper.abi export`"
        )


def test_keeper__imports_and_reads_its_abis_without_the_toolchain_or_a_build(tmp_path):
    """Every keeper module, with the heavy packages made unimportable and no .build to read."""
    script = f"""
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ImportError(f"{{name}} must not be needed by the keeper")
sys.meta_path.insert(0, Refuse())
import keeper.abi
keeper.abi.DEFAULT_BUILD = keeper.abi.Path({str(tmp_path / "no-build.json")!r})
import keeper.cli, keeper.runner, keeper.executor, keeper.signer
import keeper.dashboard, keeper.notify, keeper.sources
for name in keeper.abi.KEEPER_CONTRACTS:
    assert keeper.abi.load_abi(name), name
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_pyproject__bot_dependencies_exclude_the_toolchain_extras_install_everything():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    base = [
        d.split("[")[0].split("=")[0].split("<")[0].split(">")[0].lower()
        for d in project["project"]["dependencies"]
    ]
    assert not [
        d
        for d in base
        if d in ("eth-ape", "ape-foundry", "ape-vyper", "vyper", "snekmate", "matplotlib", "tqdm")
    ]
    extras = project["project"]["optional-dependencies"]
    everything = " ".join(extras["contracts"] + extras["replay"])
    for heavy in ("eth-ape", "ape-vyper", "vyper", "matplotlib"):
        assert heavy in everything
    assert "circuit-breaker[replay,contracts]" in extras["dev"]  # `make install` (.[dev]) installs all of it
    assert project["tool"]["setuptools"]["package-data"]["keeper"] == ["abis/*.json"]
    assert "python -m keeper.abi export" in (ROOT / "Makefile").read_text()
