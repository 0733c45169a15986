"""Medians with a 5-95% range over seeds, and the dotted metric names the tables use."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

RANGE = (5, 95)  # percentiles of the range every seed figure is shown with


def metric(result: Mapping[str, Any], key: str) -> float | None:
    """A result's figure by dotted name (`bad_debt_by_cause.price_fell`); `trips` counts the trips.
    None when the result has no such figure (an older result, or no trip to have a latency)."""
    if key == "trips":
        return float(len(result["trips"]))
    value: Any = result
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return None if value is None else float(value)


def spread(values: Iterable[float | None]) -> dict[str, Any]:
    """{median, p5, p95, n} over the values that exist (linear interpolation between seeds)."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"median": None, "p5": None, "p95": None, "n": 0}
    p5, median, p95 = np.percentile(present, [RANGE[0], 50, RANGE[1]])
    return {
        "median": round(float(median), 4),
        "p5": round(float(p5), 4),
        "p95": round(float(p95), 4),
        "n": len(present),
    }


def count(x: float) -> str:
    return f"{x:,.0f}"


def show(s: Mapping[str, Any] | None, fmt: Callable[[float], str] = count) -> str:
    """`median [p5, p95]`, or the median alone when every seed gave the same figure; `-` for none."""
    if s is None or s["median"] is None:
        return "-"
    median = fmt(s["median"])
    if s["p5"] == s["p95"]:
        return median
    return f"{median} [{fmt(s['p5'])}, {fmt(s['p95'])}]"
