"""The distributed runner: a small matrix on a local Dask cluster equals the same replays run directly;
a task whose worker dies or that fails is retried once, then reported; a re-run replays nothing."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import yaml

from replay import compare, runner
from replay.__main__ import run_replay
from replay.arguments import parse_seeds
from replay.cells import RUN_KEY, Cell, code_version, load_done
from replay.runner import Outcome, cluster, run_cells
from replay.scenario import ScenarioError, load_scenario, with_overrides
from replay.task import run_cell
from tests.replay.crash import venue_crash

# The workers run this module's task wrappers: ship them by value, whatever the workers can import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

WORLDS = ("composite", "none")
SEEDS = (1, 2)

# Four minutes of a venue crash (20 blocks), a population of 12: a replay takes seconds.
SHORT = venue_crash("short-matrix", 240, makers_leave=(24, 36), price_falls=(36, 96), borrowers=12, seed=0)


def without_run(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != RUN_KEY}


@pytest.fixture(scope="module")
def short_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "short-matrix.yaml"
    path.write_text(yaml.safe_dump(SHORT))
    return path


@pytest.fixture(scope="module")
def client():
    with cluster(workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix")


@pytest.fixture(scope="module")
def direct(short_file):
    """The matrix's replays, one after the other in this process, as `python -m replay --seed` runs them:
    (result, record) by (world, seed)."""
    return {
        (world, seed): run_replay(short_file, world, progress=False, seed=seed)[:2]
        for world in WORLDS
        for seed in SEEDS
    }


@pytest.fixture(scope="module")
def on_cluster(short_file, client, out_dir):
    cells = [Cell.of(short_file, world, seed) for world in WORLDS for seed in SEEDS]
    return list(
        run_cells(cells, lambda c: out_dir / c.filename(), client=client, progress=False, want_record=True)
    )


def test_matrix__results_equal_the_same_replays_run_directly(on_cluster, direct):
    assert len(on_cluster) == len(direct)
    for outcome in on_cluster:
        assert outcome.error is None and not outcome.cached and outcome.attempts == 1
        assert outcome.result == direct[(outcome.cell.world, outcome.cell.seed)][0]


def test_matrix__seed_draws_another_population_the_same_in_every_world(direct):
    opened = {key: sorted(record.opened.values()) for key, (_, record) in direct.items()}
    assert opened[("composite", 1)] == opened[("none", 1)]
    assert opened[("composite", 2)] == opened[("none", 2)]
    assert opened[("none", 1)] != opened[("none", 2)]
    # unprotected, the crash liquidates differently for another population
    assert (
        direct[("none", 1)][0]["wrongful_liquidated_usd"] != direct[("none", 2)][0]["wrongful_liquidated_usd"]
    )


def test_matrix__each_cell_written_with_its_run(on_cluster, out_dir, short_file):
    version = code_version()
    for outcome in on_cluster:
        written = json.loads((out_dir / outcome.cell.filename()).read_text())
        assert without_run(written) == outcome.result
        assert written[RUN_KEY] == {
            "scenario": str(short_file.resolve()),
            "scenario_sha256": written[RUN_KEY]["scenario_sha256"],
            "world": outcome.cell.world,
            "seed": outcome.cell.seed,
            "params": {},
            "blocks": None,
            "overrides": {},
            "code_version": version,
        }


def must_not_run(cell: Cell, version: str, want_record: bool = False):
    raise AssertionError(f"{cell.label()} replayed although its result is on disk")


def test_matrix__rerun_skips_results_on_disk(on_cluster, short_file, out_dir, client):
    cells = [o.cell for o in on_cluster]
    again = list(
        run_cells(cells, lambda c: out_dir / c.filename(), client=client, progress=False, task=must_not_run)
    )
    assert [o.cached for o in again] == [True] * len(cells)
    assert {o.cell: o.result for o in again} == {o.cell: o.result for o in on_cluster}


def test_matrix__compare_summarises_the_cells_on_disk(on_cluster, short_file, out_dir, capsys):
    status = compare.main(
        [str(short_file), "--worlds", *WORLDS, "--seeds", ",".join(map(str, SEEDS)), "--out", str(out_dir)]
    )
    assert status == 0
    assert "0 replayed, 4 reused from disk, 0 failed" in capsys.readouterr().out
    summary = json.loads((out_dir / "summary.json").read_text())
    for world in WORLDS:
        values = [o.result["wrongful_borrower_loss_usd"] for o in on_cluster if o.cell.world == world]
        row = summary["worlds"][world]
        assert row["seeds"] == 2
        loss = row["wrongful_borrower_loss_usd"]
        assert loss["median"] == pytest.approx(float(np.median(values)), abs=0.01)
        assert loss["p5"] <= loss["median"] <= loss["p95"]
    assert summary["failed"] == []


def kill_worker_once(marks: Path, cell: Cell, version: str, want_record: bool = False):
    """The first attempt SIGKILLs the worker process running it; later attempts replay."""
    marks.mkdir(exist_ok=True)
    attempt = len(list(marks.iterdir())) + 1
    (marks / str(attempt)).touch()
    if attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_cell(cell, version, want_record)


def test_matrix__task_whose_worker_dies_is_retried_once(short_file, client, tmp_path, direct):
    cell = Cell.of(short_file, "none", SEEDS[0])
    [outcome] = run_cells(
        [cell],
        lambda c: tmp_path / c.filename(),
        client=client,
        progress=False,
        task=partial(kill_worker_once, tmp_path / "marks"),
    )
    assert sorted(p.name for p in (tmp_path / "marks").iterdir()) == ["1", "2"]
    assert outcome.attempts == 2 and outcome.error is None
    assert outcome.result == direct[("none", SEEDS[0])][0]


def fail_always(marks: Path, cell: Cell, version: str, want_record: bool = False):
    marks.mkdir(exist_ok=True)
    (marks / str(len(list(marks.iterdir())) + 1)).touch()
    raise RuntimeError("replay process exit 1: boom")


def test_matrix__task_failing_twice_is_reported_not_dropped(short_file, client, tmp_path):
    cell = Cell.of(short_file, "composite", 3)
    outcomes = list(
        run_cells(
            [cell],
            lambda c: tmp_path / c.filename(),
            client=client,
            progress=False,
            task=partial(fail_always, tmp_path / "marks"),
        )
    )
    assert outcomes == [Outcome(cell, None, attempts=2, error="RuntimeError: replay process exit 1: boom")]
    assert len(list((tmp_path / "marks").iterdir())) == 2
    assert not (tmp_path / cell.filename()).exists()


def test_cells__result_for_another_run_is_not_reused(tmp_path, short_file):
    cell = Cell.of(short_file, "none", 1)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"liquidations": 1, RUN_KEY: cell.run_block("aaaa")}))
    assert load_done(path, cell.run_block("aaaa")) == {"liquidations": 1, RUN_KEY: cell.run_block("aaaa")}
    assert load_done(path, cell.run_block("bbbb")) is None
    assert load_done(path, Cell.of(short_file, "none", 2).run_block("aaaa")) is None


def test_cells__file_names_differ_by_seed_params_and_blocks(short_file):
    names = {
        Cell.of(short_file, "composite", seed, params, blocks).filename()
        for seed in (None, 1)
        for params in ({}, {"cvd_trip_bps": 150}, {"cvd_trip_bps": 300})
        for blocks in (None, 10)
    }
    assert len(names) == 12


def test_cells__code_version_follows_working_tree_content(tmp_path):
    source = tmp_path / "replay" / "engine.py"
    source.parent.mkdir()
    source.write_text("A = 1\n")
    before = code_version(tmp_path)
    source.write_text("A = 2\n")
    assert code_version(tmp_path) != before
    source.write_text("A = 1\n")
    assert code_version(tmp_path) == before


def test_with_overrides__seed_needs_a_generated_population(tmp_path, short_file):
    scenario, _ = load_scenario(short_file)
    assert with_overrides(scenario, seed=5).market.borrowers.seed == 5
    (tmp_path / "positions.csv").write_text("collateral,debt\n100,50\n")
    from_file = dict(SHORT, market=dict(SHORT["market"], borrowers={"file": "positions.csv"}))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(from_file))
    scenario, _ = load_scenario(tmp_path / "s.yaml")
    with pytest.raises(ScenarioError, match="seed: the borrowers come from a file"):
        with_overrides(scenario, seed=5)


def test_with_overrides__blocks_bounded_by_the_scenario(short_file):
    scenario, _ = load_scenario(short_file)
    assert with_overrides(scenario, blocks=5).blocks == 5
    with pytest.raises(ScenarioError, match=r"blocks: expected 1 <= blocks <= 20 \(got 21\)"):
        with_overrides(scenario, blocks=21)


def test_arguments__seeds_as_count_list_or_range():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("5-7") == [5, 6, 7]
    assert parse_seeds("11,3,11") == [11, 3]
    for bad in ("x", "0", "7-5", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="seeds: expected"):
            parse_seeds(bad)


@dataclass(frozen=True)
class _Pending:
    key: str


class _QueueingScheduler:
    """A client whose scheduler has handed each single-threaded worker several tasks at once."""

    def processing(self):
        return {"w1": ["a", "b", "c"], "w2": ["d"], "w3": ["other-run"]}

    def nthreads(self):
        return {"w1": 1, "w2": 1, "w3": 1}


def test_progress__running_counts_a_worker_s_threads_not_its_queue():
    pending = {_Pending(k) for k in "abcd"}
    assert runner._running(_QueueingScheduler(), pending) == 2
