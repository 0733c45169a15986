"""Replay source: serves a scenario's off-chain series (SCENARIOS.md) to the keeper, no network.

It reads `series.cex` (each venue's `mid` and `depth_1pct_usd`) and `series.open_interest_usd`,
and answers as the CEX source would at scenario time t: one ticker and one synthetic order book
per venue, and the open interest. The replay engine sets t with `set_time` (block by block);
without it, t = now - start.

Series forms: {constant: x}; {points: [[t, x], ...]} linear, last value held;
{csv: file, time: column, value: column} step-interpolated, time as ISO-8601 /
"YYYY-MM-DD HH:MM:SS" (UTC, aligned to `start`) or seconds from start.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from keeper.indicators import OpenInterest, OrderBook, Quote
from keeper.sources.base import Observations

# Synthetic books: LEVELS levels a side every STEP_BPS; the depth within 1% is spread evenly over
# the levels inside 1%, and the same per-level size continues out to LEVELS x STEP_BPS.
LEVELS = 50
STEP_BPS = 10.0


def parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    t = text.replace("Z", "+00:00")
    dt = datetime.fromisoformat(t if "T" in t or "+" in t else t.replace(" ", "T"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass
class Series:
    """One scenario series, evaluated at t seconds from the scenario start."""

    times: np.ndarray
    values: np.ndarray
    mode: str  # "constant" | "linear" | "step"
    lines: np.ndarray | None = None  # for a CSV series, the file line of each value (errors name it)

    @classmethod
    def parse(cls, spec: Mapping[str, Any], base_dir: Path, start: float, where: str = "series") -> Series:
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where}: expected a mapping with constant, points or csv")  # noqa: TRY004
        keys = set(spec) - {"name"}
        if keys == {"constant"}:
            return cls(np.zeros(1), np.array([float(spec["constant"])]), "constant")
        if keys == {"points"}:
            pts = np.asarray(spec["points"], dtype=float)
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
                raise ValueError(f"{where}.points: expected [[t, x], ...]")
            order = np.argsort(pts[:, 0], kind="stable")
            return cls(pts[order, 0], pts[order, 1], "linear")
        if "csv" in keys and keys <= {"csv", "time", "value"}:
            path = base_dir / spec["csv"]
            if not path.is_file():
                raise ValueError(f"{where}.csv: file {path} not found")
            tcol, vcol = spec.get("time", "time"), spec.get("value", "value")
            times, values, lines = [], [], []
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                if tcol not in (reader.fieldnames or []) or vcol not in (reader.fieldnames or []):
                    raise ValueError(f"{where}: {path.name} has no column {tcol!r} or {vcol!r}")
                for row in reader:
                    raw_t, raw_v = row[tcol] or "", row[vcol] or ""
                    try:
                        t = parse_time(raw_t)
                    except ValueError:
                        raise ValueError(
                            f"{where}: {path.name} line {reader.line_num}: column {tcol!r} is "
                            f"{raw_t!r}, not seconds or an ISO-8601 time"
                        ) from None
                    try:
                        value = float(raw_v)
                    except ValueError:
                        raise ValueError(
                            f"{where}: {path.name} line {reader.line_num}: column {vcol!r} is "
                            f"{raw_v!r}, not a number"
                        ) from None
                    times.append(t if _is_number(raw_t) else t - start)
                    values.append(value)
                    lines.append(reader.line_num)
            order = np.argsort(np.asarray(times), kind="stable")
            return cls(
                np.asarray(times)[order],
                np.asarray(values)[order],
                "step",
                np.asarray(lines, dtype=int)[order],
            )
        raise ValueError(f"{where}: unknown series form {sorted(keys)}; use constant, points or csv")

    def at(self, t: float) -> float:
        if self.mode == "constant":
            return float(self.values[0])
        if self.mode == "linear":
            return float(np.interp(t, self.times, self.values))
        i = bisect.bisect_right(self.times.tolist(), t) - 1
        return float(self.values[max(i, 0)])


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def synthetic_book(source: str, mid: float, depth_1pct_usd: float, timestamp: float) -> OrderBook:
    """A symmetric book whose depth within +-1% of mid (both sides) is `depth_1pct_usd`."""
    k = np.arange(1, LEVELS + 1)
    inside = int(100 / STEP_BPS)  # levels within 1%
    per_level = depth_1pct_usd / 2 / inside
    offset = (k - 0.5) * STEP_BPS / 10_000  # half a step in, so no level sits on the band's edge
    bid_px = mid * (1 - offset)
    ask_px = mid * (1 + offset)
    bids = np.column_stack([bid_px, per_level / bid_px])
    asks = np.column_stack([ask_px, per_level / ask_px])
    return OrderBook(source, bids, asks, timestamp)


@dataclass
class _Venue:
    name: str
    mid: Series
    depth: Series


class ReplaySource:
    name = "replay"

    def __init__(self, scenario: Mapping[str, Any], base_dir: Path | str = ".", market_id: int = 0) -> None:
        self.base_dir = Path(base_dir)
        self.market_id = market_id
        start = scenario.get("start")
        self.start = parse_time(str(start)) if start is not None else 0.0
        series = scenario.get("series") or {}
        self.venues: list[_Venue] = []
        for i, v in enumerate(series.get("cex") or []):
            where = f"series.cex[{i}]"
            if "name" not in v or "mid" not in v:
                raise ValueError(f"{where}: needs name and mid")
            depth = v.get("depth_1pct_usd", {"constant": float("nan")})
            self.venues.append(
                _Venue(
                    str(v["name"]),
                    Series.parse(v["mid"], self.base_dir, self.start, f"{where}.mid"),
                    Series.parse(depth, self.base_dir, self.start, f"{where}.depth_1pct_usd"),
                )
            )
        oi = series.get("open_interest_usd")
        self.open_interest = (
            Series.parse(oi, self.base_dir, self.start, "series.open_interest_usd")
            if oi is not None
            else None
        )
        depths = [d for d in (v.depth.at(0.0) for v in self.venues) if not math.isnan(d)]
        self.calm_depth: float | None = sum(depths) if depths else None
        self.t: float | None = None

    @classmethod
    def from_file(cls, path: Path | str, market_id: int = 0) -> ReplaySource:
        import yaml

        path = Path(path)
        return cls(yaml.safe_load(path.read_text()), path.parent, market_id)

    def set_time(self, t: float) -> None:
        self.t = t

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        if self.market_id not in market_ids:
            return {}
        t = self.t if self.t is not None else now - self.start
        stamp = now
        obs = Observations(calm_depth_usd=self.calm_depth)
        for v in self.venues:
            mid = v.mid.at(t)
            obs.quotes.append(Quote(v.name, mid, stamp))
            depth = v.depth.at(t)
            # No book around a price that is not one: the quote alone is rejected and counted downstream.
            if not math.isnan(depth) and math.isfinite(mid) and mid > 0:  # the scenario gave a depth series
                obs.books.append(synthetic_book(v.name, mid, depth, stamp))
        if self.open_interest is not None:
            obs.open_interest.append(OpenInterest("scenario", self.open_interest.at(t), stamp))
        return {self.market_id: obs}
