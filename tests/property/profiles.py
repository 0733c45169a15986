"""Hypothesis profiles of the stateful suites: one switch instead of a pair of variables per suite.

`HYPOTHESIS_PROFILE=quick|ci|deep` picks the example and step counts of every suite; without it, `ci` when the
CI variable is set (what `.ci/run` does) and `quick` otherwise. `quick` is the inner loop (seconds to a minute
a suite), `ci` what CI runs (the coupled suite reaches 10,000 steps), `deep` an overnight run before a
release.
"""

from __future__ import annotations

import os

PROFILES = ("quick", "ci", "deep")
# (examples, steps per example), per suite and profile.
COUNTS: dict[str, dict[str, tuple[int, int]]] = {
    "pool": {"quick": (5, 12), "ci": (5, 12), "deep": (200, 50)},
    "lending": {"quick": (6, 15), "ci": (6, 15), "deep": (200, 50)},
    "auction": {"quick": (60, 20), "ci": (60, 20), "deep": (1_000, 40)},
    "coupled": {"quick": (4, 30), "ci": (100, 100), "deep": (1_000, 200)},
}


def active_profile() -> str:
    chosen = os.environ.get("HYPOTHESIS_PROFILE", "").strip().lower()
    if not chosen:
        return "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "quick"
    if chosen not in PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE must be one of {', '.join(PROFILES)} (got {chosen!r})")
    return chosen


def counts(suite: str) -> tuple[int, int]:
    """(examples, steps per example) of `suite` under the active profile."""
    return COUNTS[suite][active_profile()]
