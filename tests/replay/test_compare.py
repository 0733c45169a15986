"""`python -m replay.compare` on a short scenario: every figure over seeds, contribution lines, overrides
reaching the replay."""

from __future__ import annotations

import json

import pytest
import yaml

from replay import compare
from replay.__main__ import run_replay
from replay.cells import ROOT, code_version
from replay.metrics import is_wrongful
from tests.replay.test_matrix import SHORT


@pytest.fixture(scope="module")
def short_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "short-compare.yaml"
    path.write_text(yaml.safe_dump(SHORT))
    return path


def test_run_replay__override_reaches_the_engine(short_file):
    liquidating, _, _ = run_replay(short_file, "none", progress=False, blocks=12)
    idle, _, _ = run_replay(
        short_file, "none", progress=False, blocks=12, overrides={"actors.liquidator.enabled": False}
    )
    assert liquidating["liquidations"] > 0
    assert idle["liquidations"] == 0


def test_compare_cli__tables_over_seeds_and_contributions(short_file, tmp_path, capsys):
    status = compare.main(
        [
            str(short_file),
            "--worlds",
            "composite",
            "none",
            "--seeds",
            "1,2",
            "--out",
            str(tmp_path),
            "--workers",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "harm to borrowers (median [5%, 95%] over seeds)" in out
    assert "n/a (world not in this run): breaker-only" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [1, 2]
    assert summary["command"] == (
        f"python -m replay.compare {short_file} --seeds 1,2 --worlds composite none --out {tmp_path}"
    )
    assert summary["code_version"] == code_version()
    for world in ("composite", "none"):
        losses = [
            json.loads((tmp_path / f"{world}-seed{seed}.json").read_text())["wrongful_borrower_loss_usd"]
            for seed in (1, 2)
        ]
        row = summary["worlds"][world]
        assert row["seeds"] == 2
        assert row["wrongful_borrower_loss_usd"]["median"] == pytest.approx(sum(losses) / 2, abs=0.01)
        assert row["protection_cost_usd"]["n"] == 2
    assert summary["worlds"]["none"]["protection_cost_usd"]["median"] == 0
    assert summary["contributions"]["breaker-only vs none"] == {"missing": "breaker-only"}
    assert summary["contributions"]["composite vs none"]["seeds"] == 2
    assert (tmp_path / "chart.png").is_file()


def test_command__reproduces_the_run_with_paths_inside_the_project_relative():
    assert (
        compare.command(
            str(ROOT / "scenarios/calm.yaml"),
            [0, 1],
            compare.PROTECTIONS,
            [],
            None,
            ROOT / "docs/results/calm",
        )
        == "python -m replay.compare scenarios/calm.yaml --seeds 2 --out docs/results/calm"
    )
    assert compare.command(
        "scenarios/calm.yaml", [None], ("none",), ["actors.note=two words"], 90, ROOT / "results/x"
    ) == (
        "python -m replay.compare scenarios/calm.yaml --worlds none --set 'actors.note=two words' "
        "--blocks 90 --out results/x"
    )


def test_command__names_breaker_parameters():
    assert compare.command(
        "scenarios/true-depeg.yaml", [0], ("composite",), [], None, ROOT / "results/x", {"max_halt_s": 3_600}
    ) == (
        "python -m replay.compare scenarios/true-depeg.yaml --seeds 1 --worlds composite "
        "--param max_halt_s=3600 --out results/x"
    )


def test_compare_cli__a_breaker_parameter_reaches_every_cell(short_file, tmp_path):
    status = compare.main(
        [str(short_file), "--worlds", "composite", "--seeds", "1", "--param", "max_halt_s=3600"]
        + ["--out", str(tmp_path), "--workers", "1"]
    )
    assert status == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["params"] == {"max_halt_s": 3_600}
    assert "--param max_halt_s=3600" in summary["command"]
    # a parameter set names its own result file
    (cell_file,) = (p for p in tmp_path.glob("composite-seed0-p*.json") if ".record." not in p.name)
    assert json.loads(cell_file.read_text())["run"]["params"] == {"max_halt_s": 3_600}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_halt=3600", "unknown parameter 'max_halt'"),
        ("max_halt_s=60", "max_halt_s must be between 900"),
        ("max_halt_s=an hour", "'an hour' is not a whole number"),
        ("max_halt_s", "expected NAME=VALUE"),
    ],
)
def test_compare_cli__bad_parameter_is_one_line_naming_it(short_file, tmp_path, capsys, text, message):
    status = compare.main([str(short_file), "--param", text, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert not (tmp_path / "summary.json").exists()


def test_compare_cli__bad_override_is_one_line_naming_it(short_file, tmp_path, capsys):
    status = compare.main([str(short_file), "--set", "market.pool.depth=2", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "market.pool.depth: Extra inputs are not permitted" in err
    assert "market.pool.depth=2" in err


def test_run_replay__bad_debt_causes_account_for_the_engines_total(short_file):
    result, record, _ = run_replay(short_file, "none", progress=False)
    causes = result["bad_debt_by_cause"]
    assert result["bad_debt_usd"] > 0  # the unguarded cascade of this scenario writes debt off
    # the fair price is 1.0 throughout: nothing fell for real, every loss is the dislocation's
    assert causes["price_fell"] == 0
    assert causes["dislocation"] == pytest.approx(result["bad_debt_usd"], rel=1e-3)
    assert abs(causes["unattributed"]) <= 1e-3 * result["bad_debt_usd"] + 0.01
    harmed = {liq.borrower for liq in record.liquidations if is_wrongful(liq)}
    assert result["wrongful_borrowers"] == len(harmed) > 0
    # a borrower cannot lose more than their equity at the fair price (1.0): what the written-off debt
    # relieved them of is the lenders' loss, counted in bad debt
    equity = sum(record.opened[who][0] * 1.0 - record.opened[who][1] for who in harmed)
    assert 0 < result["wrongful_borrower_loss_usd"] <= equity * (1 + 1e-6)
    assert result["wrongful_seized_usd"] >= result["wrongful_liquidated_usd"]
