"""Scenario files (SCENARIOS.md): the validated model and its series, evaluated at scenario time.

`load_scenario(path)` returns a `Scenario` or raises `ScenarioError` with one line naming the
field ("scenario.yaml: series.venue_price.csv: file data/x.csv not found"). Every field of
SCENARIOS.md is accepted; unknown fields are refused, so a typo never passes silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keeper.sources.replay import Series, parse_time


class ScenarioError(ValueError):
    """An invalid scenario; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Token(_Strict):
    symbol: str = Field(min_length=1, max_length=5)
    decimals: int = Field(ge=0, le=18)


class PoolSpec(_Strict):
    liquidity_usd: float = Field(gt=0, le=1e12)
    fee_bps: int = Field(default=4, ge=0, le=1_000)
    # Extension: the guarded pool's price band half-width around the reference (GuardedPool's bounds).
    band_bps: int = Field(default=500, ge=10, le=5_000)


class AggregatorSpec(_Strict):
    """Extension: a Chainlink-like feed the lending market reads, posting the weighted median of the
    venues: the modelled pool (the venue that breaks) with `venue_weight`, each reference feed with 1."""

    venue_weight: float = Field(default=1.0, ge=0, le=10)
    deviation_bps: int = Field(default=50, ge=1, le=1_000)  # posts on this move, or every half heartbeat


class LendingSpec(_Strict):
    price_source: Literal["venue", "reference", "aggregator"] = "venue"
    aggregator: AggregatorSpec = AggregatorSpec()
    liquidation_threshold_bps: int = Field(default=9_000, ge=1_000, le=9_800)
    liquidation_bonus_bps: int = Field(default=500, ge=0, le=2_000)
    close_factor_bps: int = Field(default=5_000, ge=1_000, le=10_000)


class Lognormal(_Strict):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)


class CollateralDistribution(_Strict):
    lognormal: Lognormal


class HealthDistribution(_Strict):
    uniform: tuple[float, float]

    @field_validator("uniform")
    @classmethod
    def _ordered_above_one(cls, v: tuple[float, float]) -> tuple[float, float]:
        low, high = v
        if not 1.0 <= low <= high <= 100:
            raise ValueError("expected [low, high] with 1 <= low <= high")
        return v


class GeneratedBorrowers(_Strict):
    count: int = Field(ge=1, le=5_000)
    seed: int = 0
    collateral_usd: CollateralDistribution
    health_factor: HealthDistribution


class BorrowersFile(_Strict):
    file: str


class ExternalMarketSpec(_Strict):
    """Extension: the reference venues as one market the actors can trade, at the reference price (the
    feeds' median) with linear price impact: selling `depth_1pct_usd` moves it 1% within a block, and
    it is back at the reference at the next block (its price is the reference series). Default depth:
    5% of the pool's calm liquidity per 1%."""

    depth_1pct_usd: float | None = Field(default=None, gt=0, le=1e12)


class MarketSpec(_Strict):
    collateral: Token
    debt: Token
    pool: PoolSpec
    external: ExternalMarketSpec = ExternalMarketSpec()
    lending: LendingSpec = LendingSpec()
    borrowers: GeneratedBorrowers | BorrowersFile


class SeriesSpec(_Strict):
    """One of the three series forms; `name` is allowed where a list names its entries."""

    constant: float | None = None
    points: list[tuple[float, float]] | None = None
    csv: str | None = None
    time: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SeriesSpec:
        forms = [f for f in ("constant", "points", "csv") if getattr(self, f) is not None]
        if len(forms) != 1:
            raise ValueError("give exactly one of constant, points or csv")
        if self.csv is None and (self.time or self.value):
            raise ValueError("time and value go with csv")
        if self.points is not None and not self.points:
            raise ValueError("points must not be empty")
        return self

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class NamedSeries(SeriesSpec):
    name: str = Field(min_length=1)


class CexSpec(_Strict):
    name: str = Field(min_length=1)
    mid: SeriesSpec
    depth_1pct_usd: SeriesSpec | None = None


class SeriesSet(_Strict):
    venue_price: SeriesSpec
    venue_depth_ratio: SeriesSpec = SeriesSpec(constant=1.0)
    reference: Annotated[list[NamedSeries], Field(min_length=1, max_length=7)]
    fair_price: SeriesSpec
    cex: list[CexSpec] = []
    open_interest_usd: SeriesSpec | None = None


class Liquidator(_Strict):
    enabled: bool = True
    # Extension: the seized collateral is sold, spread over blocks, to the better of the pool and the
    # external market, never below the best quote (max of the pool's spot and the reference) less this.
    max_slippage_bps: int = Field(default=100, ge=1, le=5_000)


class Arbitrageur(_Strict):
    """Extension: buys the pool when it is below the external market and sells it back when above,
    with `capital_usd` of the debt asset (funded at t = 0, counted in the record's `given_usd`).
    Default: 1% of the pool's calm liquidity."""

    enabled: bool = True
    capital_usd: float | None = Field(default=None, ge=0, le=1e12)


class Flow(_Strict):
    t: float = Field(ge=0)
    sell: Literal["collateral", "debt"]
    usd: float = Field(gt=0)


class ThresholdChange(_Strict):
    """Extension: governance changes the lending market's liquidation threshold at t, ramped over
    ramp_s (the contract refuses a ramp shorter than its ramp_min_s; it never jumps)."""

    t: float = Field(ge=0)
    liquidation_threshold_bps: int = Field(ge=5_000, le=9_500)
    ramp_s: int = Field(ge=0, le=90 * 86_400)


class Actors(_Strict):
    liquidator: Liquidator = Liquidator()
    arbitrageur: Arbitrageur = Arbitrageur()
    flows: list[Flow] = []
    governance: list[ThresholdChange] = []


class Bound(_Strict):
    min: float | None = None
    max: float | None = None


class TripsExpectation(Bound):
    first_within: tuple[float, float] | None = None


class Expectations(_Strict):
    """Any result key can be bounded with {min, max}; `trips` also takes first_within [t0, t1]."""

    model_config = ConfigDict(extra="allow", frozen=True)
    trips: TripsExpectation | None = None

    @model_validator(mode="after")
    def _extra_are_bounds(self) -> Expectations:
        for value in (self.model_extra or {}).values():
            Bound.model_validate(value)
        return self

    def bounds(self) -> dict[str, Bound]:
        out = {k: Bound.model_validate(v) for k, v in (self.model_extra or {}).items()}
        if self.trips is not None:
            out["trips"] = self.trips
        return out


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    description: str = ""
    start: str | None = None
    duration_s: int = Field(gt=0, le=7 * 86_400)
    block_time_s: int = Field(default=12, ge=1, le=600)
    market: MarketSpec
    series: SeriesSet
    actors: Actors = Actors()
    expect: Expectations | None = None

    @field_validator("start")
    @classmethod
    def _parses(cls, v: str | None) -> str | None:
        if v is not None:
            parse_time(v)
        return v

    @property
    def blocks(self) -> int:
        return self.duration_s // self.block_time_s

    @property
    def start_ts(self) -> float:
        return parse_time(self.start) if self.start else 0.0


class Curves:
    """Every series of a scenario, parsed once (CSV files read here), evaluated by t."""

    def __init__(self, scenario: Scenario, base_dir: Path):
        start = scenario.start_ts

        def parse(spec: SeriesSpec, where: str, zero_ok: bool = False) -> Series:
            raw = spec.raw()
            raw.pop("name", None)
            series = Series.parse(raw, base_dir, start, where)
            _check_values(spec, series, where, zero_ok)
            return series

        s = scenario.series
        self.venue_price = parse(s.venue_price, "series.venue_price")
        self.venue_depth_ratio = parse(s.venue_depth_ratio, "series.venue_depth_ratio", zero_ok=True)
        self.reference = [(r.name, parse(r, f"series.reference.{i}")) for i, r in enumerate(s.reference)]
        self.fair_price = parse(s.fair_price, "series.fair_price")


def _check_values(spec: SeriesSpec, series: Series, where: str, zero_ok: bool) -> None:
    """Prices must be finite and > 0, the depth ratio finite and >= 0; the error names the value's place."""
    need = "a finite number >= 0" if zero_ok else "a finite number > 0"
    if spec.points is not None:
        values = [(f"points.{i}", x) for i, (_, x) in enumerate(spec.points)]  # as written, before sorting
    elif spec.csv is not None and series.lines is not None:
        name, column = Path(spec.csv).name, spec.value or "value"
        values = [
            (f"{name} line {line}, column {column!r}", x)
            for line, x in zip(series.lines.tolist(), series.values.tolist(), strict=True)
        ]
    else:
        values = [("constant", x) for x in series.values.tolist()]
    for place, value in values:
        if not (math.isfinite(value) and (value > 0 or (zero_ok and value == 0))):
            raise ValueError(f"{where}: {place} is {float(value)!r}, expected {need}")


def _format(err: ValidationError) -> str:
    first = err.errors()[0]
    # Union members appear in the location by class name (GeneratedBorrowers); fields are lowercase.
    where = ".".join(str(p) for p in first["loc"] if not str(p)[:1].isupper()) or "(top level)"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


def parse_scenario(raw: Any, base_dir: Path, source: str = "scenario") -> tuple[Scenario, Curves]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: expected a mapping at the top level")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_format(exc)}") from exc
    try:
        curves = Curves(scenario, base_dir)
        if isinstance(scenario.market.borrowers, BorrowersFile):
            path = base_dir / scenario.market.borrowers.file
            if not path.is_file():
                raise ValueError(f"market.borrowers.file: file {path} not found")
    except ValueError as exc:
        raise ScenarioError(f"{source}: {exc}") from exc
    return scenario, curves


def load_scenario(path: str | Path) -> tuple[Scenario, Curves]:
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} not found")
    try:
        text = path.read_text()
        raw = yaml.safe_load(text)  # JSON is YAML too
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: not valid YAML or JSON ({exc})") from exc
    return parse_scenario(raw, path.parent, source=str(path))


def with_overrides(scenario: Scenario, *, seed: int | None = None, blocks: int | None = None) -> Scenario:
    """The scenario with its borrower population's seed and/or its length overridden (a matrix cell).

    `seed` replaces `market.borrowers.seed` (a generated population only); `blocks` keeps the first
    `blocks` steps (1 <= blocks <= the scenario's own), so a long scenario gives short replays.
    """
    if seed is not None:
        spec = scenario.market.borrowers
        if not isinstance(spec, GeneratedBorrowers):
            raise ScenarioError(
                f"{scenario.name}: seed: the borrowers come from a file; only a generated "
                "population (market.borrowers.count, seed, ...) takes a seed"
            )
        if not 0 <= seed < 2**32:
            raise ScenarioError(f"{scenario.name}: seed: expected 0 <= seed < 2^32 (got {seed})")
        market = scenario.market.model_copy(update={"borrowers": spec.model_copy(update={"seed": seed})})
        scenario = scenario.model_copy(update={"market": market})
    if blocks is not None:
        if not 1 <= blocks <= scenario.blocks:
            raise ScenarioError(
                f"{scenario.name}: blocks: expected 1 <= blocks <= {scenario.blocks} (got {blocks})"
            )
        scenario = scenario.model_copy(update={"duration_s": blocks * scenario.block_time_s})
    return scenario
