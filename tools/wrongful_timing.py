"""When the wrongful liquidations of a compare run happened, against when the dislocation began and the
breaker tripped: what a halt could still have prevented.

    .venv/bin/python tools/wrongful_timing.py docs/results/oct10-usde [--worlds band-only composite]

Reads the per-seed result and record files `python -m replay.compare` leaves in the folder (they stay on
the machine that ran it) and prints, per world, the wrongful liquidations (healthy at the fair price with
the threshold the market applied) counted by time, and composite's first-condition and trip times.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from replay.metrics import is_wrongful  # noqa: E402 - after the path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--worlds", nargs="+", default=["band-only", "composite"])
    args = parser.parse_args(argv)
    found = False
    for world in args.worlds:
        at: Counter[int] = Counter()
        seeds = 0
        for record_file in sorted(args.folder.glob(f"{world}-seed*.record.json")):
            seeds += 1
            record = json.loads(record_file.read_text())["record"]
            at.update(liq["t"] for liq in record["liquidations"] if is_wrongful(SimpleNamespace(**liq)))
        if not seeds:
            print(f"{world}: no record files in {args.folder}", file=sys.stderr)
            continue
        found = True
        times = ", ".join(f"{n} at t = {t:,} s" for t, n in sorted(at.items())) or "none"
        print(f"{world} ({seeds} seeds): wrongful liquidations {times}")
    starts: Counter[tuple] = Counter()
    for result_file in sorted(args.folder.glob("composite-seed*.json")):
        if result_file.name.endswith(".record.json"):
            continue
        result = json.loads(result_file.read_text())
        first_trip = result["trips"][0]["t"] if result["trips"] else None
        starts[(result.get("first_condition_t"), first_trip)] += 1
    for (condition, trip), n in sorted(starts.items(), key=lambda kv: -kv[1]):
        print(
            f"composite on {n} seeds: first trip condition at t = {condition} s, first trip at t = {trip} s"
        )
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
