"""A short replay reproduces its committed result JSON: the engine may get faster, never different.

tests/replay/reference/ holds a 300-block scenario (a calm start, a crash that trips the breaker,
the reopening auction, a calm tail with one large sale) and what the engine made of it under
`composite` and `none`: the result JSON and the block-by-block breaker state and prices. Rewrite
them only for a change meant to move the figures: `python -m tests.replay.test_reference`.
`python -m tests.replay.test_reference diff A.json B.json` compares any two result JSONs the same way
(reference/oct10-usde-composite.json is the full 10 October replay the engine gave before it was
made faster: too long for a test, compared by hand after a change to the engine).

Tolerances, and why they are what they are:
- counts, times, blocks, rules, states and `expect_failures`: exact. The scenario fixes every
  timestamp of the replay, so anything else is a different replay.
- amounts (USD figures, auction price and volume, per-block prices): relative 1e-6, or 0.02 USD for
  figures rounded to cents. The borrowers open their positions in the hour before t = 0, in blocks
  whose timestamps follow the wall clock (anvil's clock runs from the chain's start), so their debt
  at t = 0 carries a few seconds more or less of interest: about 1e-9 of the debt per second at
  the market's rates, under 1e-7 for a set-up that takes a minute longer. 1e-6 leaves ten times
  that margin and still catches any change of an order, a price or a liquidation.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from replay.__main__ import run_replay
from replay.engine import Record

REFERENCE = Path(__file__).resolve().parent / "reference"
SCENARIO = REFERENCE / "crash-and-recovery.yaml"
PROTECTIONS = ("composite", "none")
REL = 1e-6
CENTS = 0.02
AMOUNTS = {
    "liquidated_collateral_usd",
    "wrongful_liquidated_usd",
    "borrower_loss_usd",
    "bad_debt_usd",
    "lp_value_change_usd",
    "price",
    "volume",
    "imbalance",
    "reference",
    "liquidatable_if_at_once_collateral_usd",
}


def record_of(record: Record) -> dict[str, Any]:
    """The block-by-block part of a replay that the result JSON summarises."""
    return {
        "states": [[t, s] for t, s in record.states],
        "prices": [list(p) for p in record.prices],
        "liquidations": [[liq.t, liq.borrower, liq.repaid, liq.seized] for liq in record.liquidations],
    }


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Every place where `got` differs from `want` beyond the tolerances above."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{where}.{k}: missing" for k in want if k not in got]
        out += [f"{where}.{k}: unexpected" for k in got if k not in want]
        for k in want.keys() & got.keys():
            out += differences(got[k], want[k], f"{where}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items, reference has {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{where}[{i}]")
        ]
    if isinstance(want, float) or isinstance(got, float):
        if want is None or got is None or isinstance(want, bool | str) or isinstance(got, bool | str):
            return [] if got == want else [f"{where}: {got!r} != {want!r}"]
        key = where.rsplit(".", 1)[-1]
        exact = key not in AMOUNTS and not where.startswith((".prices", ".liquidations"))
        if exact:
            return [] if got == want else [f"{where}: {got!r} != {want!r} (exact)"]
        if math.isclose(got, want, rel_tol=REL, abs_tol=CENTS if key.endswith("_usd") else 0.0):
            return []
        return [f"{where}: {got!r} != {want!r} (rel {REL:g})"]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


def replay(protection: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result, record, _ = run_replay(SCENARIO, protection, progress=False)
    return result, record_of(record)


@pytest.mark.parametrize("protection", PROTECTIONS)
def test_replay__reproduces_the_reference_result(protection):
    result, record = replay(protection)
    want_result = json.loads((REFERENCE / f"{protection}.json").read_text())
    want_record = json.loads((REFERENCE / f"{protection}.record.json").read_text())
    problems = differences(result, want_result) + differences(record, want_record)
    assert problems == [], "\n".join(problems[:20])


def test_reference__exercises_every_part_of_the_engine():
    """The reference is only worth its name if it covers a trip, the auction and liquidations."""
    composite = json.loads((REFERENCE / "composite.json").read_text())
    none = json.loads((REFERENCE / "none.json").read_text())
    assert len(composite["trips"]) == 1 and composite["resumes"] and composite["auctions"]
    assert (
        composite["liquidations"] > 0 and none["wrongful_liquidations"] > composite["wrongful_liquidations"]
    )


def test_differences__catches_a_moved_figure():
    want = {"trips": [{"t": 420.0}], "bad_debt_usd": 100.0, "price": 0.98}
    assert (
        differences({"trips": [{"t": 420.0}], "bad_debt_usd": 100.01, "price": 0.98 * (1 + 1e-7)}, want) == []
    )
    assert differences({"trips": [{"t": 432.0}], "bad_debt_usd": 100.0, "price": 0.98}, want)
    assert differences({"trips": [{"t": 420.0}], "bad_debt_usd": 101.0, "price": 0.98}, want)
    assert differences({"trips": [{"t": 420.0}], "bad_debt_usd": 100.0, "price": 0.981}, want)


if __name__ == "__main__":
    if sys.argv[1:2] == ["diff"]:  # `diff A.json B.json`: two result JSONs, within the tolerances above
        found = differences(
            json.loads(Path(sys.argv[3]).read_text()), json.loads(Path(sys.argv[2]).read_text())
        )
        print("\n".join(found) or "same within the tolerances")
        sys.exit(1 if found else 0)
    for protection in (
        sys.argv[1:] or PROTECTIONS
    ):  # rewrite the references (a change meant to move the figures)
        result, record = replay(protection)
        (REFERENCE / f"{protection}.json").write_text(json.dumps(result, indent=2) + "\n")
        (REFERENCE / f"{protection}.record.json").write_text(json.dumps(record) + "\n")
        print(protection, {k: result[k] for k in ("liquidations", "wrongful_liquidations", "halted_s")})
