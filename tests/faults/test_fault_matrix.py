"""Issue 13 point 4: every scenario of the fault matrix ends all-new or all-old, recorded, lock released,
Slack told (see tests/faults/matrix.py for the invariant and scenarios.py for the faults)."""

from __future__ import annotations

import os

import pytest

from tests.faults.matrix import Result
from tests.faults.scenarios import SCENARIOS

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(2400)]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(s.key, marks=[pytest.mark.xfail(reason=s.xfail, strict=True)] if s.xfail else [])
        for s in SCENARIOS
    ],
)
def test_fault_scenario(matrix_results: dict[str, Result], key: str) -> None:
    if key not in matrix_results:
        pytest.skip(f"not selected by AIRLOCK_FAULTS={os.environ.get('AIRLOCK_FAULTS')}")
    result = matrix_results[key]
    detail = "\n".join([f"struck: {result.struck}", *result.problems, *result.notes])
    assert result.ok, detail


def test_matrix_covers_the_issue() -> None:
    """At least 20 scenarios, with the faults issue 13 names."""
    assert len(SCENARIOS) >= 20
    faults = " | ".join(f"{s.fault} @ {s.phase}" for s in SCENARIOS)
    for needed in (
        "worker SIGKILL @ canary step",
        "worker SIGKILL @ canary analysis",
        "worker SIGKILL @ rollback",
        "triggerer SIGKILL + restart @ deferred analysis",
        "triggerer SIGKILL + restart @ deferred rollout wait",
        "scheduler",
        "429 x3 (Retry-After 1) @ canary step",
        "503 x3 @ canary step",
        "429 x3 (Retry-After 1) @ rollback",
        "503 x3 @ rollback",
        "hangs",
        "watch dropped",
        "410 Gone",
        "Prometheus down 5 s",
        "Prometheus down the whole step",
        "Alertmanager unreachable @ pre-flight",
        "Slack",
    ):
        assert needed in faults, needed
