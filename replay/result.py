"""The result JSON of SCENARIOS.md, computed from a finished replay, and the `expect` checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from keeper import params as P
from replay.engine import Engine
from replay.metrics import bad_debt_by_cause, harm, is_wrongful
from replay.scenario import Curves, Scenario


def first_condition_t(
    scenario: Scenario, curves: Curves, overrides: dict[str, int] | None = None
) -> float | None:
    """First step at which rule A's conditions hold on the series themselves: the venue price more
    than cvd_trip_bps from the reference (median of the feeds) and its depth ratio below rl_trip_bps."""
    params = P.resolve(overrides)
    cvd_trip, rl_trip = params["cvd_trip_bps"] / 10_000, params["rl_trip_bps"] / 10_000
    for step in range(1, scenario.blocks + 1):
        t = step * scenario.block_time_s
        reference = float(np.median([s.at(t) for _, s in curves.reference]))
        cvd = abs(curves.venue_price.at(t) / reference - 1)
        if cvd > cvd_trip and curves.venue_depth_ratio.at(t) < rl_trip:
            return float(t)
    return None


def build_result(engine: Engine) -> dict[str, Any]:
    scenario, curves, rec = engine.scenario, engine.curves, engine.record
    # health factor at the fair price, with the threshold the market applied at that moment
    wrongful = [liq for liq in rec.liquidations if is_wrongful(liq)]
    fair_end = curves.fair_price.at(scenario.blocks * scenario.block_time_s)
    harmed = harm(rec.liquidations, rec.opened, fair_end)
    bad_debt = round(engine.bad_debt_usd(), 2)
    first_cond = first_condition_t(scenario, curves, engine.params)
    first_trip = rec.trips[0]["t"] if rec.trips else None
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "breaker": engine.protection,
        "blocks": rec.blocks,
        "duration_s": scenario.duration_s,
        "trips": rec.trips,
        "resumes": [{"t": r["t"], "block": r["block"]} for r in rec.resumes],
        "halted_s": rec.halted_s,
        "extensions": len(rec.extensions),
        "first_condition_t": first_cond,
        "trip_latency_s": (first_trip - first_cond)
        if first_trip is not None and first_cond is not None
        else None,
        # headline: what wrongfully liquidated borrowers lost, and how many they were (docs/replay.md)
        "wrongful_borrower_loss_usd": round(harmed.wrongful_borrower_loss_usd, 2),
        "wrongful_borrowers": harmed.wrongful_borrowers,
        "wrongful_seized_usd": round(harmed.wrongful_seized_usd, 2),
        "liquidations": len(rec.liquidations),
        "liquidated_collateral_usd": round(sum(liq.seized * liq.fair_price for liq in rec.liquidations), 2),
        "wrongful_liquidations": len(wrongful),
        "wrongful_liquidated_usd": round(sum(liq.seized * liq.fair_price for liq in wrongful), 2),
        "borrower_loss_usd": round(sum(liq.seized * liq.fair_price - liq.repaid for liq in wrongful), 2),
        "bad_debt_usd": bad_debt,
        "bad_debt_by_cause": bad_debt_by_cause(rec, fair_end, bad_debt),
        "lp_value_change_usd": round(engine.lp_value_change_usd(), 2),
    }
    if rec.rule_changes:
        result["rule_changes"] = rec.rule_changes
    if rec.auctions:
        result["auctions"] = rec.auctions
    result["expect_failures"] = check_expectations(scenario, result)
    return result


def check_expectations(scenario: Scenario, result: dict[str, Any]) -> list[str]:
    if scenario.expect is None:
        return []
    failures: list[str] = []
    for key, bound in scenario.expect.bounds().items():
        if key == "trips":
            value: Any = len(result["trips"])
        elif key in result:
            value = result[key]
        else:
            failures.append(f"{key}: not a result key")
            continue
        if value is None:
            failures.append(f"{key}: no value (expected a bound)")
            continue
        if bound.min is not None and value < bound.min:
            failures.append(f"{key} = {value} < min {bound.min}")
        if bound.max is not None and value > bound.max:
            failures.append(f"{key} = {value} > max {bound.max}")
        window = getattr(bound, "first_within", None)
        if key == "trips" and window is not None:
            first = result["trips"][0]["t"] if result["trips"] else None
            if first is None or not window[0] <= first <= window[1]:
                failures.append(f"first trip at {first} outside [{window[0]}, {window[1]}]")
    return failures
