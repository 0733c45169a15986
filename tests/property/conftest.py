"""Property-suite fixtures: stateful runs report what they did in the terminal summary.

`make test` captures test output, so a line printed inside a test is lost unless it fails; a line
added to `stateful_report` is written in its own section at the end of every run instead.
"""

from __future__ import annotations

import pytest

REPORT = pytest.StashKey[list[str]]()


@pytest.fixture
def stateful_report(request) -> list[str]:
    """Lines to show in the "stateful runs" section of the terminal summary."""
    return request.config.stash.setdefault(REPORT, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("stateful runs")
        for line in lines:
            terminalreporter.write_line(line)
