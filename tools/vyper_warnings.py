"""Compiles every contract with the pinned vyper and fails if the compiler warns.

    .venv/bin/python tools/vyper_warnings.py      # part of `make lint`

ape compiles quietly, so warnings would go unseen; this runs the compiler itself with the same search
paths (the project and snekmate's install) and prints each contract's warnings.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VYPER = Path(sys.executable).with_name("vyper")


def main() -> int:
    # modules are compiled through the contracts that import them
    contracts = sorted(p for p in (ROOT / "contracts").rglob("*.vy") if "modules" not in p.parts)
    search = [
        arg for p in (ROOT, ROOT / "contracts", *map(Path, site.getsitepackages())) for arg in ("-p", str(p))
    ]
    warned = 0
    for path in contracts:
        run = subprocess.run(
            [str(VYPER), *search, str(path)], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            print(f"{path.relative_to(ROOT)}: does not compile\n{run.stderr}")
            return 1
        if run.stderr.strip():
            warned += 1
            print(f"{path.relative_to(ROOT)}:\n{run.stderr}")
    version = subprocess.run(
        [str(VYPER), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"vyper {version}: {len(contracts)} contracts, {warned} with warnings")
    return 1 if warned else 0


if __name__ == "__main__":
    sys.exit(main())
