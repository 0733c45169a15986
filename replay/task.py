"""One matrix cell as a cluster task: the replay runs in a replay process that the worker keeps.

A replay owns an anvil, so it does not run inside the worker: each worker thread keeps one replay
process, forked from the worker on its first task and reused for the next ones, and hands it one cell at
a time. Forking rather than starting a fresh interpreter spares each process the engine's imports (about
2 s of CPU): a worker of a local cluster is itself forked from the client (replay/runner.py), which has
imported them, so a matrix of short replays costs about what the same replays cost in a process pool.
The replay process runs each replay in its only thread, so devchain ties the anvil's life to it; it asks
the kernel to kill it when the worker thread that forked it ends, so a worker that dies, SIGKILL included,
takes the replay process and its anvil with it. A replay that crashes its process fails the task, not the
worker; the next task forks a new process.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import pickle
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import IO, Any

from replay.cells import Cell, code_version, on_this_machine

STDERR_TAIL = 2_000  # characters of the replay process's stderr kept in a task's error
PR_SET_PDEATHSIG = 1  # prctl(2): the signal the kernel sends when the forking thread ends
_local = threading.local()  # this worker thread's replay process


class TaskFailed(RuntimeError):
    """A replay that did not finish: the message names the cell and the reason."""


def _die_with_forking_thread(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


class ReplayProcess:
    """A forked replay process: one JSON line in per cell, one line out when its pickle is written."""

    def __init__(self) -> None:
        # its stderr, in a file with no name: nothing to clean up, however the worker ends
        self.log = tempfile.TemporaryFile(prefix="replay-task-")  # noqa: SIM115
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _die_with_forking_thread(parent)
                gc.freeze()  # the worker's objects stay as they are: none is collected, none closes a file
                # Only the protocol pipes and the log stay open: a copy of another thread's pipe here would
                # keep its replay process from seeing the end of its input, or its worker from seeing it die.
                os.dup2(requests_r, 0)
                os.dup2(answers_w, 3)
                os.dup2(self.log.fileno(), 2)
                os.dup2(2, 1)  # anything the replay prints goes to the log, never into the protocol
                os.closerange(4, os.sysconf("SC_OPEN_MAX"))
                code = _serve(os.fdopen(0, "r"), os.fdopen(3, "w"))
            except BaseException:  # noqa: BLE001 - the child must never return into the worker's code
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(requests_r)
        os.close(answers_w)
        self.pid = pid
        self.returncode: int | None = None
        self.requests = os.fdopen(requests_w, "w")
        self.answers = os.fdopen(answers_r, "r")

    def alive(self) -> bool:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode is None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def run(self, spec: dict[str, Any]) -> str:
        """Sends one cell, waits for its answer line ('' when the process died)."""
        try:
            self.requests.write(json.dumps(spec) + "\n")
            self.requests.flush()
        except (BrokenPipeError, OSError):
            return ""
        return self.answers.readline().strip()

    def log_size(self) -> int:
        return os.fstat(self.log.fileno()).st_size

    def stderr_tail(self, since: int) -> str:
        # pread: the child shares the file's offset, which a seek here would move under its writes
        start = max(since, self.log_size() - STDERR_TAIL)
        return os.pread(self.log.fileno(), self.log_size() - start, start).decode(errors="replace").strip()

    def close(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.wait()
        for stream in (self.requests, self.answers, self.log):
            with contextlib.suppress(OSError):  # the pipe's other end is gone
                stream.close()


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
                code = process.wait()
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
