"""One matrix cell as a cluster task: the replay runs in a replay process that the worker keeps.

A replay owns an anvil, so it does not run inside the worker: each worker thread keeps one replay
process (`python -m replay.task`, started on its first task, reused for the next ones so the engine's
imports are paid once) and hands it one cell at a time. The replay process runs each replay in its main
thread, so devchain ties the anvil's life to it; it is started under `setpriv --pdeathsig KILL` by the
worker thread, so a worker that dies, SIGKILL included, takes the replay process and its anvil with it.
A replay that crashes its process fails the task, not the worker; the next task starts a new process.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import IO, Any

from replay.cells import Cell, code_version, on_this_machine

STDERR_TAIL = 2_000  # characters of the replay process's stderr kept in a task's error
_local = threading.local()  # this worker thread's replay process


class TaskFailed(RuntimeError):
    """A replay that did not finish: the message names the cell and the reason."""


def _dies_with_starting_thread(cmd: list[str]) -> list[str]:
    # The kernel signals the child when the thread that started it ends: a worker thread lives as long as
    # its worker (if it ended first, the next task would find the process gone and start another).
    setpriv = shutil.which("setpriv")
    if setpriv is None or not sys.platform.startswith("linux"):
        return cmd
    return [setpriv, "--pdeathsig", "KILL", "--", *cmd]


class ReplayProcess:
    """A `python -m replay.task` child: one JSON line in per cell, one line out when its pickle is written."""

    def __init__(self) -> None:
        # its stderr, in a file with no name: nothing to clean up, however the worker ends
        self.log = tempfile.TemporaryFile(prefix="replay-task-")  # noqa: SIM115
        self.proc = subprocess.Popen(
            _dies_with_starting_thread([sys.executable, "-m", "replay.task"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, spec: dict[str, Any]) -> str:
        """Sends one cell, waits for its answer line ('' when the process died)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(spec) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return ""
        return self.proc.stdout.readline().strip()

    def log_size(self) -> int:
        return os.fstat(self.log.fileno()).st_size

    def stderr_tail(self, since: int) -> str:
        # pread: the child shares the file's offset, which a seek here would move under its writes
        start = max(since, self.log_size() - STDERR_TAIL)
        return os.pread(self.log.fileno(), self.log_size() - start, start).decode(errors="replace").strip()

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def _process() -> ReplayProcess:
    current: ReplayProcess | None = getattr(_local, "process", None)
    if current is None or not current.alive():
        if current is not None:
            current.close()
        current = _local.process = ReplayProcess()
    return current


def run_cell(cell: Cell, version: str, want_record: bool = False) -> tuple[dict[str, Any], Any, float]:
    """Replays `cell` on this worker: (result JSON, the engine's record if asked for, wall seconds).

    Refuses to run when this worker's code version differs from the client's (`version`): a result is
    only comparable with the code it names.
    """
    here = code_version()
    if here != version:
        raise TaskFailed(
            f"{cell.label()}: this worker's code version is {here}, the client's {version}: "
            "workers need the same checkout (contracts, replay, keeper, scenarios, data)"
        )
    process = _process()
    since = process.log_size()
    with tempfile.TemporaryDirectory(prefix="replay-task-") as tmp:
        out = Path(tmp) / "out.pickle"
        answer = process.run(
            {
                "scenario": str(on_this_machine(cell.scenario)),
                "world": cell.world,
                "seed": cell.seed,
                "params": cell.params_dict,
                "blocks": cell.blocks,
                "overrides": cell.overrides,
                "want_record": want_record,
                "out": str(out),
            }
        )
        if answer != "ok" or not out.is_file():
            if not answer:
                process.proc.wait()
                code = process.proc.returncode
                how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
                reason = f"replay process {how}"
            else:
                reason = answer
            raise TaskFailed(f"{cell.label()}: {reason}: {process.stderr_tail(since)}")
        with out.open("rb") as fh:
            return pickle.load(fh)  # written by our own replay process, in our own temporary directory


def _serve(requests: IO[str], answers: IO[str]) -> int:
    """The replay process: a cell per line until stdin closes."""
    from replay.__main__ import run_replay

    for line in requests:
        spec = json.loads(line)
        try:
            result, record, wall = run_replay(
                spec["scenario"],
                spec["world"],
                progress=False,
                params=spec["params"] or None,
                seed=spec["seed"],
                blocks=spec["blocks"],
                overrides=spec.get("overrides") or None,
            )
            with Path(spec["out"]).open("wb") as fh:
                pickle.dump((result, record if spec["want_record"] else None, wall), fh)
            answers.write("ok\n")
        except Exception as exc:  # noqa: BLE001 - reported to the task, which fails with it
            traceback.print_exc()
            answers.write(f"{type(exc).__name__}: {exc}".replace("\n", " ") + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    # Answers go to the real stdout; anything the replay prints goes to stderr, never into the protocol.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.exit(_serve(sys.stdin, protocol))
