"""pre_execute guards: skip a task for a dry run or a hotfix, decided from the validated request.

They read the `validate` task's XCom (the request as checked against the spec), never raw conf.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

VALIDATE_TASK_ID = "validate"


def _request(context: Any) -> dict[str, Any]:
    request = context["ti"].xcom_pull(task_ids=VALIDATE_TASK_ID)
    if not isinstance(request, dict):
        raise RuntimeError(f"task {VALIDATE_TASK_ID!r} returned no request; cannot decide what to run")
    return request


def skip_in_dry_run(context: Any) -> None:
    """For waits and checks that only make sense after a real change (sensors, smoke, scans)."""
    if _request(context).get("dry_run"):
        raise AirflowSkipException("dry run: nothing was changed, so there is nothing to wait for or verify")


def skip_for_hotfix_or_dry_run(context: Any) -> None:
    """The staging soak: a hotfix skips it (recorded by the validate task); pre-flight is never skipped."""
    request = _request(context)
    if request.get("risk") == "hotfix":
        raise AirflowSkipException("hotfix run: staging soak skipped (recorded in the deployment record)")
    skip_in_dry_run(context)
