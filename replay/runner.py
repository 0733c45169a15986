"""Runs matrix cells as tasks on a Dask cluster: local by default, an existing one by address.

`run_cells(cells, where)` yields one `Outcome` per cell as its replay finishes (results stream back;
the client writes each result file the moment it arrives), with a progress bar of done / running /
failed. A task that fails or whose worker dies is submitted once more; a second failure is reported
as an `Outcome` with its error, never dropped. A cell whose result file on disk was written for the
same scenario, world, seed, parameters, block limit and code version is not replayed (`force` replays).

The cluster: `address` (or `DASK_SCHEDULER_ADDRESS`, which Dask reads into its `scheduler-address`
setting) connects to a running scheduler; otherwise a local cluster of `workers` single-threaded
worker processes (default: one per core) is started and stopped around the run.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, wait
from tqdm import tqdm

from replay.cells import RUN_KEY, Cell, code_version, load_done, on_this_machine, write_result
from replay.overrides import load_with_overrides
from replay.scenario import with_overrides
from replay.task import run_cell

ATTEMPTS = 2  # a task runs at most twice: once, and once more after a failure or a dead worker
POLL_S = 0.5  # how often the progress bar asks the scheduler what is running


@dataclass
class Outcome:
    cell: Cell
    result: dict[str, Any] | None  # None when the cell failed twice
    record: Any = None  # the engine's Record, when asked for and available
    wall_s: float | None = None  # the replay's own wall time (None for a result read from disk)
    cached: bool = False  # read from a result file of the same run, not replayed
    attempts: int = 0
    error: str | None = None  # the last failure's message when the cell failed twice


def scheduler_address(address: str | None = None) -> str | None:
    """`--address` first, else Dask's `scheduler-address` setting (DASK_SCHEDULER_ADDRESS)."""
    return address or dask.config.get("scheduler-address", None) or None


@contextmanager
def cluster(address: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at `address`, or of a local cluster started here for the run."""
    address = scheduler_address(address)
    if address:
        with Client(address) as client:
            yield client
        return
    # A dead worker's task comes back to the runner at once (its one retry is the runner's own), and the
    # local cluster binds to loopback only, on free ports (no dashboard without bokeh).
    # Workers are forked from this process once it has imported the engine: a worker and its replay process
    # start in a fraction of a second instead of importing it again (docs/replay.md).
    importlib.import_module("replay.__main__")
    with (
        dask.config.set(
            {
                "distributed.scheduler.allowed-failures": 0,
                "distributed.worker.multiprocessing-method": "fork",
            }
        ),
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server on loopback, any free port: runs side by side
            silence_logs=logging.ERROR,
        ) as local,
        Client(local) as client,
    ):
        yield client


def _check(cells: Iterable[Cell]) -> None:
    """Refuses an invalid cell before anything runs (ScenarioError naming the field)."""
    for scenario, seed, blocks, overrides in {(c.scenario, c.seed, c.blocks, c.overrides) for c in cells}:
        loaded, _ = load_with_overrides(on_this_machine(scenario), overrides)
        with_overrides(loaded, seed=seed, blocks=blocks)


def record_path(result_path: Path) -> Path:
    return result_path.with_suffix(".record.json")


def _write_record(path: Path, record: Any, run: dict[str, Any]) -> None:
    """The engine's record beside its result, with the same `run` block (read back only for that run)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({RUN_KEY: run, "record": asdict(record)}) + "\n")
    tmp.replace(path)


def _read_record(path: Path, run: dict[str, Any]) -> Any:
    from replay.engine import Liquidation, Record

    try:
        stored = json.loads(path.read_text())
        if stored.get(RUN_KEY) != run:
            return None
        raw = stored["record"]
        raw["liquidations"] = [Liquidation(**liq) for liq in raw["liquidations"]]
        raw["opened"] = {k: tuple(v) for k, v in raw["opened"].items()}
        raw["states"] = [tuple(s) for s in raw["states"]]
        raw["prices"] = [tuple(p) for p in raw["prices"]]
        return Record(**raw)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def run_cells(
    cells: Iterable[Cell],
    where: Callable[[Cell], Path],
    *,
    address: str | None = None,
    workers: int | None = None,
    client: Client | None = None,
    want_record: bool = False,
    force: bool = False,
    progress: bool = True,
    task: Callable[..., Any] = run_cell,
) -> Iterator[Outcome]:
    """Runs every cell (see the module's docstring); `where(cell)` is its result file.

    `client` reuses a connected client; else one is made from `address` / `workers`. `task` is the
    function run on the workers, `run_cell`'s signature (tests put a failing one in front of it).
    """
    cells = list(dict.fromkeys(cells))
    _check(cells)
    version = code_version()
    runs = {cell: cell.run_block(version) for cell in cells}
    todo: list[Cell] = []
    done_on_disk: list[Outcome] = []
    for cell in cells:
        result = None if force else load_done(where(cell), runs[cell])
        if result is not None:
            result = {k: v for k, v in result.items() if k != RUN_KEY}
        record = (
            _read_record(record_path(where(cell)), runs[cell]) if result is not None and want_record else None
        )
        if result is not None and (record is not None or not want_record):
            done_on_disk.append(Outcome(cell, result, record, cached=True))
        else:
            todo.append(cell)
    bar = tqdm(total=len(cells), desc="replays", unit="replay", disable=not progress, dynamic_ncols=True)
    failed = 0

    def show(running: int) -> None:
        bar.set_postfix_str(f"running {running}, failed {failed}", refresh=True)

    try:
        for outcome in done_on_disk:
            bar.update(1)
            yield outcome
        if not todo:
            show(0)
            return
        with cluster(address, workers) if client is None else nullcontext(client) as cl:
            attempts: dict[Cell, int] = {}
            by_future: dict[Future, Cell] = {}

            def submit(cell: Cell) -> Future:
                attempts[cell] = attempts.get(cell, 0) + 1
                future = cl.submit(
                    task,
                    cell,
                    version,
                    want_record,
                    pure=False,
                    retries=0,
                    key=f"replay-{cell.filename()[:-5]}-{attempts[cell]}-{os.urandom(4).hex()}",
                )
                by_future[future] = cell
                return future

            pending = {submit(cell) for cell in todo}
            while pending:
                finished, pending = _wait_a_little(pending)
                running = _running(cl, pending)
                for future in finished:
                    cell = by_future.pop(future)
                    if future.status == "finished":
                        result, record, wall = future.result()
                        write_result(where(cell), result, runs[cell])
                        if want_record and record is not None:
                            _write_record(record_path(where(cell)), record, runs[cell])
                        bar.update(1)
                        yield Outcome(cell, result, record, wall, attempts=attempts[cell])
                    else:
                        error = _describe(future)
                        if attempts[cell] < ATTEMPTS:
                            bar.write(f"retrying {cell.label()}: {error}")
                            pending.add(submit(cell))
                        else:
                            failed += 1
                            bar.update(1)
                            bar.write(f"FAILED {cell.label()} after {attempts[cell]} attempts: {error}")
                            yield Outcome(cell, None, attempts=attempts[cell], error=error)
                    future.release()
                show(running)
    finally:
        bar.close()


def _wait_a_little(pending: set[Future]) -> tuple[set[Future], set[Future]]:
    try:
        done, not_done = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), pending
    return set(done), set(not_done)


def _running(client: Client, pending: set[Future]) -> int:
    """Replays being run now: the scheduler hands a worker more tasks than it has threads (the rest wait
    in the worker's queue), so a worker counts at most its threads."""
    keys = {f.key for f in pending}
    try:
        processing = client.processing()
        threads = client.nthreads()
    except Exception:  # noqa: BLE001 - the bar's figure only; a busy scheduler must not fail the run
        return 0
    return sum(
        min(sum(1 for key in tasks if key in keys), threads.get(worker, 1))
        for worker, tasks in processing.items()
    )


def _describe(future: Future) -> str:
    if future.status == "cancelled":
        return "the cluster cancelled it (scheduler restarted or lost it)"
    exc = future.exception()
    name = type(exc).__name__
    if name == "KilledWorker":
        return "its worker died while running it"
    return f"{name}: {exc}"
