"""Wall time of `make replay` on scenarios/oct10-usde.yaml with the composite breaker (1,800 blocks).

Runs the replay in this process, exactly as `python -m replay` does, and reports its wall time;
the replay starts its own anvil, so it does not touch the benchmark network.
"""

from __future__ import annotations

from pathlib import Path

from replay.__main__ import run_replay

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "oct10-usde.yaml"


def run(project, accounts) -> dict[str, float]:
    result, _, wall = run_replay(SCENARIO, "composite", progress=False)
    return {"replay.oct10_usde_s": round(wall, 1), "replay.oct10_usde_blocks": result["blocks"]}
