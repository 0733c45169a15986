"""Scenario overrides by dotted path (`market.lending.price_source=reference`), checked by the scenario's
own model: a path the format does not have, or a value it refuses, is a ScenarioError naming both."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from replay.scenario import Curves, Scenario, ScenarioError, load_scenario, parse_scenario

Override = tuple[str, Any]


def parse_override(text: str) -> Override:
    """`PATH=VALUE`, the value read as YAML (`0.5`, `reference`, `[1.05, 1.6]`); a number YAML 1.1 reads as a
    string (`1e7`) is a number."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(
            f"override {text!r}: expected PATH=VALUE (e.g. market.lending.price_source=venue)"
        )
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"override {path}: value {value!r} is not valid YAML ({exc})") from exc
    if isinstance(parsed, str):
        try:
            number = float(parsed)
        except ValueError:
            return path, parsed
        if math.isfinite(number):
            return path, number
    return path, parsed


def normalised(overrides: Mapping[str, Any] | Iterable[Override] | None) -> tuple[Override, ...]:
    """Sorted by path, lists as tuples: hashable, and one spelling per set of overrides (a cache key)."""
    items = overrides.items() if isinstance(overrides, Mapping) else (overrides or ())

    def frozen(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(frozen(x) for x in v)
        if isinstance(v, dict):
            raise ScenarioError(f"override value {v!r}: give each field its own path, not a mapping")
        return v

    return tuple(sorted((str(k), frozen(v)) for k, v in items))


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


def apply(raw: dict[str, Any], overrides: Iterable[Override], source: str) -> dict[str, Any]:
    """A copy of the raw scenario mapping with each path set; intermediate mappings are created (a
    default section the file leaves out), anything else in the way is refused."""
    out = copy.deepcopy(raw)
    for path, value in overrides:
        parts = path.split(".")
        if any(not p for p in parts):
            raise ScenarioError(f"{source}: override {path}: empty part in the dotted path")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise ScenarioError(f"{source}: override {path}: {where} is not a section of the scenario")
            node = nxt
        node[parts[-1]] = _plain(value)
    return out


def load_with_overrides(
    path: str | Path, overrides: Mapping[str, Any] | Iterable[Override] | None = None
) -> tuple[Scenario, Curves]:
    """`load_scenario`, with `overrides` applied to the file's mapping before it is validated."""
    items = normalised(overrides)
    if not items:
        return load_scenario(path)
    path = Path(path)
    load_scenario(path)  # the file itself must be valid before it is overridden
    raw = yaml.safe_load(path.read_text())
    label = ", ".join(f"{k}={_plain(v)!r}" for k, v in items)
    try:
        return parse_scenario(apply(raw, items, str(path)), path.parent, source=f"{path} with {label}")
    except ScenarioError as exc:
        message = str(exc)
        if "Extra inputs are not permitted" in message:
            message += " (an override names a field the scenario format does not have)"
        raise ScenarioError(message) from exc
