"""Harm metrics on hand-built records: wrongful chains, borrower loss, bad debt by cause, medians."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from replay import stats
from replay.metrics import bad_debt_by_cause, harm, is_wrongful, written_off


@dataclass
class Liq:
    t: float
    borrower: str
    repaid: float
    seized: float
    debt_before: float
    collateral_before: float
    fair_price: float
    threshold_bps: int = 9_000
    block: int = 0


@dataclass
class Rec:
    liquidations: list
    opened: dict


# borrower: 1,000 collateral at fair 1.0, debt 850: health 1000 x 1.0 x 0.9 / 850 = 1.06 (healthy)
FIRST = Liq(
    t=12,
    borrower="borrower",
    repaid=425,
    seized=650,
    debt_before=850,
    collateral_before=1_000,
    fair_price=1.0,
)
# the same borrower again: now 350 collateral for 425 debt, unhealthy even at the fair price (rightful alone)
SECOND = Liq(
    t=24,
    borrower="borrower",
    repaid=212.5,
    seized=300,
    debt_before=425,
    collateral_before=350,
    fair_price=1.0,
)


def test_is_wrongful__judged_at_the_fair_price_with_the_applied_threshold():
    assert is_wrongful(FIRST)
    assert not is_wrongful(SECOND)
    assert not is_wrongful(
        Liq(t=0, borrower="b", repaid=1, seized=1, debt_before=0, collateral_before=1, fair_price=1)
    )


def test_harm__second_liquidation_of_a_wrongfully_liquidated_borrower_counts_once_and_in_full():
    h = harm([SECOND, FIRST], {"borrower": (1_000, 850)}, fair_end=1.0)  # order given does not matter
    assert h.wrongful_borrowers == 1
    # (650 - 425) + (300 - 212.5): the rightful-looking second step is part of the harm
    assert h.wrongful_borrower_loss_usd == pytest.approx(225 + 87.5)
    assert h.wrongful_seized_usd == pytest.approx(950)


def test_harm__rightful_liquidation_alone_is_no_harm():
    h = harm([SECOND], {"borrower": (350, 425)}, fair_end=1.0)
    assert (h.wrongful_borrowers, h.wrongful_borrower_loss_usd) == (0, 0)


def test_harm__written_off_debt_is_the_lenders_loss_not_the_borrowers():
    # all 100 collateral goes for 90 repaid; the 20 left of the debt is written off
    last = Liq(
        t=12, borrower="b", repaid=90, seized=100, debt_before=110, collateral_before=100, fair_price=0.8
    )
    assert written_off(last) == pytest.approx(20)
    assert written_off(FIRST) == 0
    h = harm([last], {"b": (100, 110)}, fair_end=0.8)
    # 100 x 0.8 = 80 < 110: insolvent at the fair price, so the price fell for real
    assert h.bad_debt_by_cause == {"price_fell": pytest.approx(20), "dislocation": 0}


def test_bad_debt_by_cause__write_off_after_a_wrongful_step_is_the_dislocations():
    # the wrongful first step took collateral at a dislocated price; the rest goes in a write-off
    rest = Liq(
        t=24,
        borrower="borrower",
        repaid=200,
        seized=350,
        debt_before=425,
        collateral_before=350,
        fair_price=1.0,
    )
    causes = bad_debt_by_cause(Rec([FIRST, rest], {"borrower": (1_000, 850)}), fair_end=1.0, total=225)
    assert causes == {"price_fell": 0, "dislocation": 225, "unattributed": 0}


def test_bad_debt_by_cause__write_off_while_solvent_at_fair_is_a_dislocation():
    # solvent at the fair price (100 x 1.0 >= 95), but the venue price took everything
    solvent = Liq(
        t=12,
        borrower="b",
        repaid=60,
        seized=100,
        debt_before=95,
        collateral_before=100,
        fair_price=1.0,
        threshold_bps=9_000,
    )
    causes = bad_debt_by_cause(Rec([solvent], {"b": (100, 95)}), fair_end=1.0, total=35)
    assert causes["dislocation"] == pytest.approx(35)
    assert causes["price_fell"] == 0


def test_bad_debt_by_cause__position_left_under_water_and_the_residual():
    # never liquidated (a halt held it): 100 collateral worth 0.7 each against 90 debt
    causes = bad_debt_by_cause(Rec([], {"b": (100, 90), "c": (100, 10)}), fair_end=0.7, total=20.5)
    assert causes == {"price_fell": 20, "dislocation": 0, "unattributed": 0.5}


def test_bad_debt_by_cause__a_record_with_its_own_causes_is_used_as_is():
    rec = Rec([], {"b": (100, 90)})
    rec.bad_debt_causes = {"price_fell": 1.0, "dislocation": 2.0}
    assert bad_debt_by_cause(rec, fair_end=0.7, total=3) == {
        "price_fell": 1,
        "dislocation": 2,
        "unattributed": 0,
    }


def test_spread__median_and_5_95_range_over_the_values_that_exist():
    s = stats.spread([*range(21), None])
    assert s == {"median": 10, "p5": 1, "p95": 19, "n": 21}
    assert stats.spread([None]) == {"median": None, "p5": None, "p95": None, "n": 0}
    assert stats.show(s) == "10 [1, 19]"
    assert stats.show(stats.spread([3, 3])) == "3"


def test_metric__dotted_names_and_trips():
    result = {"trips": [{}, {}], "bad_debt_by_cause": {"price_fell": 5}, "halted_s": None}
    assert stats.metric(result, "trips") == 2
    assert stats.metric(result, "bad_debt_by_cause.price_fell") == 5
    assert stats.metric(result, "bad_debt_by_cause.dislocation") is None
    assert stats.metric(result, "halted_s") is None
