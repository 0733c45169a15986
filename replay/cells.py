"""Matrix cells: what one replay is, where its result lives, and when a result on disk still counts.

A cell is (scenario, world, borrower seed, parameter overrides, block limit, scenario overrides by
dotted path). Its result file carries a
`run` block naming all of them plus the scenario file's hash and the code version; a re-run skips a cell
whose file has the same `run` block, so changed code, data or scenario replays again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay.overrides import Override, normalised

ROOT = Path(__file__).resolve().parent.parent
# The tracked sources that decide a result: the contracts, the engine, the keeper, the scenarios and
# their data, and the code that deploys the contracts on the replay's chain.
CODE_DIRS = ("contracts", "replay", "keeper", "scenarios", "data", "devchain", "deployment")
RUN_KEY = "run"


def _tracked_files(root: Path) -> list[Path]:
    """The tracked files under CODE_DIRS (git), or every file there outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *CODE_DIRS], cwd=root, capture_output=True, check=True, timeout=30
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.SubprocessError):
        names = []
    if not names:
        names = [
            str(p.relative_to(root))
            for d in CODE_DIRS
            for p in (root / d).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    return [root / n for n in sorted(names)]


def code_version(root: Path = ROOT) -> str:
    """SHA-256 (first 16 hex digits) over the path and working-tree content of each tracked file under
    CODE_DIRS: an uncommitted edit changes it too, unlike git's tree hash of the last commit."""
    digest = hashlib.sha256()
    for path in _tracked_files(root):
        if path.is_file():  # tracked but deleted in the working tree: absent from the hash
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def portable(path: str | Path) -> str:
    """A scenario path as a worker finds it: relative to the project root when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


def on_this_machine(path: str) -> Path:
    return ROOT / path if not Path(path).is_absolute() else Path(path)


@dataclass(frozen=True)
class Cell:
    """One replay of a matrix."""

    scenario: str  # path, relative to the project root when inside it (see `portable`)
    world: str  # a protection of replay.world.PROTECTIONS
    seed: int | None = None  # the borrower population's seed; None keeps the scenario's own
    params: tuple[tuple[str, int], ...] = ()  # breaker parameter overrides, sorted by name
    blocks: int | None = None  # replay only the first `blocks` steps
    overrides: tuple[Override, ...] = ()  # scenario fields by dotted path, sorted (replay/overrides.py)

    @classmethod
    def of(
        cls,
        scenario: str | Path,
        world: str,
        seed: int | None = None,
        params: dict[str, int] | None = None,
        blocks: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Cell:
        return cls(
            portable(scenario),
            world,
            seed,
            tuple(sorted((params or {}).items())),
            blocks,
            normalised(overrides),
        )

    @property
    def params_dict(self) -> dict[str, int]:
        return dict(self.params)

    def label(self) -> str:
        parts = [Path(self.scenario).stem, self.world]
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts += [f"{k}={v}" for k, v in self.params]
        parts += [f"{k}={v}" for k, v in self.overrides]
        if self.blocks is not None:
            parts.append(f"{self.blocks} blocks")
        return " ".join(parts)

    def filename(self) -> str:
        """`<world>[-seed<N>][-p<hash of params>][-b<blocks>][-o<hash of overrides>].json`: unique within one
        scenario's folder."""
        name = self.world
        if self.seed is not None:
            name += f"-seed{self.seed}"
        if self.params:
            name += "-p" + hashlib.sha256(json.dumps(self.params).encode()).hexdigest()[:10]
        if self.blocks is not None:
            name += f"-b{self.blocks}"
        if self.overrides:
            name += "-o" + hashlib.sha256(json.dumps(self.overrides).encode()).hexdigest()[:10]
        return name + ".json"

    def run_block(self, version: str) -> dict[str, Any]:
        """What decides this cell's result; a result file with the same block is reused."""
        return {
            "scenario": self.scenario,
            "scenario_sha256": file_sha256(on_this_machine(self.scenario)),
            "world": self.world,
            "seed": self.seed,
            "params": self.params_dict,
            "blocks": self.blocks,
            "overrides": {k: v for k, v in self.overrides},
            "code_version": version,
        }


def load_done(path: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """The result at `path` if it was written for exactly `run`, else None."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get(RUN_KEY) == run else None


def write_result(path: Path, result: dict[str, Any], run: dict[str, Any]) -> None:
    """Writes the result with its `run` block, through a temporary file: never half a file on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result | {RUN_KEY: run}, indent=2) + "\n")
    tmp.replace(path)
