"""The local anvil the keeper's tools start: it never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import sys
from devchain import Anvil
node = Anvil()
print(node.proc.pid, flush=True)
sys.stdin.read()  # wait to be killed
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes: it is anvil's parent's child no more once reaped by init
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux only"
)
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_anvil__stops_when_the_process_that_started_it_is_killed(how):
    anvil_pid = None
    starter = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        anvil_pid = int(starter.stdout.readline())
        assert alive(anvil_pid)
        starter.send_signal(how)  # no clean-up code runs: SIGKILL, or SIGTERM without a handler
        starter.wait(10)
        deadline = time.monotonic() + 10
        while alive(anvil_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(anvil_pid), f"anvil {anvil_pid} outlived its starter ({how.name})"
    finally:
        if starter.poll() is None:
            starter.kill()
        if anvil_pid and alive(anvil_pid):
            os.kill(anvil_pid, signal.SIGKILL)  # leave no node behind when the test fails
