"""A clone is all a user has: no tracked file may refer to a path outside the repository."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A relative path climbing at least one level, e.g. `../data/x.csv` or two levels to a sibling folder.
CLIMBING_PATH = re.compile(r"(?:\.\./)+[\w.\-/]*")
# Absolute paths of the machine the repository was written on.
MACHINE_PATH = re.compile(r"/work/[\w.\-/]+")
LOCKFILES = {"package-lock.json"}


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in out.decode().split("\0"):
        if not name or Path(name).name in LOCKFILES:
            continue
        path = ROOT / name
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        files.append(path)
    return files


def _escapes(reference: str, file: Path) -> bool:
    """True if `reference` leaves the repository whether read from the file's folder or from the root."""
    inside = []
    for base in (file.parent, ROOT):
        target = (base / reference).resolve()
        inside.append(target == ROOT or ROOT in target.parents)
    return not any(inside)


def outside_references(files: list[Path]) -> list[str]:
    found = []
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{file.relative_to(ROOT)}:{number}"
            found += [f"{where}: {m}" for m in CLIMBING_PATH.findall(line) if _escapes(m, file)]
            found += [f"{where}: {m}" for m in MACHINE_PATH.findall(line)]
    return found


def test_tracked_files__refer_to_nothing_outside_the_repository():
    files = _tracked_text_files()
    assert len(files) > 100, "git ls-files found too few files: is this a checkout?"
    assert outside_references(files) == []


def test_outside_references__finds_a_path_to_a_sibling_folder():
    # The check itself must be able to fail: a scenario pointing two levels up, to a folder beside the clone.
    scenario = ROOT / "scenarios" / "oct10-usde.yaml"
    sibling = "../" * 2 + "elsewhere/data/oct10-2025/x.csv"
    assert _escapes(sibling, scenario)
    assert not _escapes("../data/oct10-2025/x.csv", scenario)


def test_scenarios__read_data_shipped_in_the_repository():
    for scenario in (ROOT / "scenarios").glob("*.yaml"):
        for reference in re.findall(r"csv:\s*(\S+)", scenario.read_text()):
            data = (scenario.parent / reference).resolve()
            assert data.is_file(), f"{scenario.name}: {reference} is not in the repository"
            assert ROOT / "data" in data.parents
