"""Issue 12 point 6: people in the loop through a real Airflow, driven over the REST API as people would -
approvals (tests/faults/people_approvals.py), and the canary's holds, pauses, controls and retries when
their modules exist (tests/faults/people.py PEOPLE_SCENARIOS). They run in the fault matrix's session
(conftest.py), so each also ends with the matrix's invariant: one version everywhere, recorded, lock
released, Slack told. `AIRLOCK_FAULTS=p` runs only these; `AIRLOCK_FAULTS=p0` only the approvals."""

from __future__ import annotations

import os

import pytest

from tests.faults.matrix import Result
from tests.faults.people import PEOPLE_SCENARIOS

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(2400)]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(s.key, marks=[pytest.mark.xfail(reason=s.xfail, strict=True)] if s.xfail else [])
        for s in PEOPLE_SCENARIOS
    ],
)
def test_people_scenario(matrix_results: dict[str, Result], key: str) -> None:
    if key not in matrix_results:
        pytest.skip(f"not selected by AIRLOCK_FAULTS={os.environ.get('AIRLOCK_FAULTS')}")
    result = matrix_results[key]
    # what the people did and any notes (shown with pytest -rP for a passing scenario)
    print(f"{key}: {result.outcome}; did: {result.struck}; notes: {result.notes or '-'}")
    detail = "\n".join([f"did: {result.struck}", *result.problems, *result.notes])
    assert result.ok, detail


def test_approvals_are_covered() -> None:
    """Approve, reject and time out an approval; a non-approver refused; a hotfix's own approvers."""
    faults = " | ".join(s.fault for s in PEOPLE_SCENARIOS)
    for needed in (
        "approved by alice",
        "rejected by bob",
        "nobody answers",
        "canary's last step",
        "hotfix",
        "403",
    ):
        assert needed in faults, needed
