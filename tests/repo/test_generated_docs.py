"""Numbers in the docs come from their sources: every generated block is up to date."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs__are_up_to_date():
    run = subprocess.run(
        [sys.executable, "tools/docs.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_params_table__lists_every_parameter_with_its_bounds():
    sys.path.insert(0, str(ROOT / "tools"))
    import docs
    from keeper import params as P

    table = docs.params_table()
    assert all(f"| `{p.name}` |" in table for p in P.PARAMS)
    assert "| `cvd_trip_bps` | 300 | 50 .. 5,000 | bps |" in table


def _docs_module():
    sys.path.insert(0, str(ROOT / "tools"))
    import docs

    return docs


def test_replay_summary__renders_compare_summary_with_its_provenance(tmp_path, monkeypatch):
    docs = _docs_module()
    from replay.report import contributions, seed_summary, with_protection_cost
    from tests.replay.test_report import RUNS

    runs = with_protection_cost(RUNS)
    folder = tmp_path / "docs" / "results" / "calm"
    folder.mkdir(parents=True)
    summary = {
        "scenario": "calm",
        "command": "python -m replay.compare scenarios/calm.yaml --seeds 3 --out docs/results/calm",
        "code_version": "0123456789abcdef",
        "seeds": [0, 1, 2],
        "blocks": None,
        "worlds": seed_summary(runs),
        "contributions": contributions(runs),
        "misses": ["miss (none): wrongful borrower loss 1k (median) where the venue never left the ref"],
        "failed": [],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(docs, "ROOT", tmp_path)

    block = docs.replay_summary("calm")
    first = block.splitlines()[0]
    assert "`python -m replay.compare scenarios/calm.yaml --seeds 3 --out docs/results/calm`" in first
    assert "3 borrower seeds" in first and "code version `0123456789abcdef`" in first
    assert "| none | 3 | 1k [100, 1.9k] | 1 [0, 1] | 2k [200, 3.8k] | 0 | 0 |" in block
    assert "- composite vs none: 87.5% [76.2%, 98.8%] of none's loss" in block
    assert "- miss (none): wrongful borrower loss 1k" in block
    assert "chart.png" not in block  # no chart in the folder, no link to one


def test_replay_summary__without_a_summary_names_the_command_to_run(tmp_path, monkeypatch):
    docs = _docs_module()
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.replay_summary("true-depeg") == (
        "No results yet: run `python -m replay.compare scenarios/true-depeg.yaml "
        "--out docs/results/true-depeg`, then `python tools/docs.py`.\n"
    )


def test_regenerate__a_variant_block_renders_its_own_folder(tmp_path, monkeypatch):
    docs = _docs_module()
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    text = (
        "<!-- BEGIN generated:replay-true-depeg/max-halt-3600 -->\nold\n"
        "<!-- END generated:replay-true-depeg/max-halt-3600 -->"
    )
    body = docs.regenerate(text, "test.md")
    assert "old" not in body
    assert "No results yet" in body and "docs/results/true-depeg/max-halt-3600" in body


def test_sensitivity_summary__renders_the_tables_with_their_provenance(tmp_path, monkeypatch):
    docs = _docs_module()
    spread = {"median": 1_500.0, "p5": 1_000.0, "p95": 2_000.0, "n": 20}
    folder = tmp_path / "docs" / "results" / "oct10-usde" / "sensitivity"
    folder.mkdir(parents=True)
    summary = {
        "scenario": "oct10-usde",
        "command": "python -m replay.sensitivity scenarios/oct10-usde.yaml --seeds 20 --out x",
        "code_version": "0123456789abcdef",
        "seeds": list(range(20)),
        "params": {},
        "blocks": None,
        "variants": {"scenario's own": {"none": {"wrongful_borrower_loss_usd": spread}}, "band=300": {}},
        "refused": [],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(docs, "ROOT", tmp_path)

    block = docs.sensitivity_summary("oct10-usde")
    first = block.splitlines()[0]
    assert "`python -m replay.sensitivity scenarios/oct10-usde.yaml --seeds 20 --out x`" in first
    assert "20 borrower seeds" in first and "code version `0123456789abcdef`" in first
    assert "**wrongful borrower loss USD (median [5%, 95%] over seeds)**" in block
    assert "| scenario's own | - | - | 1.5k [1k, 2k] |" in block  # worlds: composite, breaker-only, none
    assert "| band=300 | - | - | - |" in block
