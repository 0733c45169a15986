"""The gas check of `make gas`: which figures it keeps and when it fails."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gas.py"
_spec = importlib.util.spec_from_file_location("gas_script", SCRIPT)
gas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gas)


def test_is_gas_figure__keeps_transaction_gas_only():
    assert gas.is_gas_figure("gas.pool.swap_guarded", 66_970)
    assert not gas.is_gas_figure("gas.pool.guarded_over_unguarded", 1.04)
    assert not gas.is_gas_figure("gas.auction.settle_samples", 5)
    assert not gas.is_gas_figure("keeper.rss_mb", 300_000)


def test_compare__a_rise_over_one_percent_fails_naming_the_call():
    failures, _ = gas.compare({"gas.breaker.trip_rule_a": 100_000}, {"gas.breaker.trip_rule_a": 101_001})
    assert len(failures) == 1 and failures[0].startswith("gas.breaker.trip_rule_a: 100,000 -> 101,001")


def test_compare__a_rise_within_one_percent_passes_and_is_noted():
    failures, notes = gas.compare({"gas.breaker.trip_rule_a": 100_000}, {"gas.breaker.trip_rule_a": 101_000})
    assert failures == [] and notes == ["gas.breaker.trip_rule_a: 100,000 -> 101,000 gas (+1.00%)"]


def test_compare__new_and_vanished_calls_are_notes_not_failures():
    failures, notes = gas.compare({"gas.old.call": 50_000}, {"gas.new.call": 60_000})
    assert failures == []
    assert notes == ["gas.new.call: new, 60,000 gas", "gas.old.call: no longer measured"]
