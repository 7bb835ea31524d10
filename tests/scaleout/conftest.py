"""The scale-out test's figures, printed in pytest's terminal summary (so CI output shows them without -s)."""

from __future__ import annotations

import pytest

FIGURES = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = []


@pytest.fixture
def report(request: pytest.FixtureRequest):
    """Append a line to the scale-out section of the terminal summary."""
    return request.config.stash[FIGURES].append


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.write_sep("=", "Airlock scale-out (CeleryExecutor on PostgreSQL + Redis)")
        for line in lines:
            terminalreporter.write_line(line)
