"""Issue 12 points 3 and 6: retry a failed run after a fix, through a real Airflow's REST API.

A person retries a run as the UI's "Clear task" (with Downstream) does: POST
/api/v2/dags/{dag_id}/clearTaskInstances for the run. Airflow clears the deploy lock's `acquire_lock`
with it (a setup is cleared with the tasks it covers), and that task decides whether the retry may go on
(airlock.run_retry, operators.lock). See docs/retry.md.

* p2a: the app connection points at the wrong endpoint, so the validation's health check fails and the
  rollback puts production back on v1. The person fixes the connection (PATCH /api/v2/connections/...,
  the spec is not edited) and clears the failed task, `validation.health`: refused (production is back on
  v1, the canary and promotion it would validate were undone), nothing written. The person then clears
  `production.record_rollback_plan` as the refusal says: the run redeploys v2 and succeeds - production
  all v2, the record and Slack say it is a retry (attempt 3) and that it deployed, the lock released.
* p2b: a run rolled back (v3 fails the canary analysis). Clearing the failed analysis is refused (the canary
  it would judge was deleted by the rollback; the refusal names the kept canary step), nothing written.
  Then the line is stopped (the stop mark written as a failed rollback writes it,
  airlock.stop_line.mark_body): clearing `production.record_rollback_plan` is refused at the lock naming the
  stop mark; nothing is written; production stays on v1.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from airlock.stop_line import StopMark, mark_body
from tests.faults.matrix import RUN_TIMEOUT_S, Driver, Result, Scenario, image
from tests.faults.processes import closed_port_url
from tests.faults.world import BAD, NEW

PLAN = "production.record_rollback_plan"
HEALTH = "validation.health"
ANALYSIS = "production.canary.analysis_1"
LOCK = "acquire_lock"


def app_conn_id(key: str) -> str:
    return f"app_{key.replace('-', '_')}"


def _connection(conn_id: str, url: str) -> dict[str, Any]:
    scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    return {"connection_id": conn_id, "conn_type": "http", "host": host, "port": int(port), "schema": scheme}


def clear(d: Driver, task_id: str) -> list[str]:
    """What the UI's Clear task with Downstream sends for this run; returns the cleared task ids."""
    body = {
        "dag_run_id": d.run_id,
        "task_ids": [task_id],
        "include_downstream": True,
        "include_upstream": False,
        "only_failed": False,
        "dry_run": False,
        "reset_dag_runs": True,
    }
    response = d.api.request("POST", f"/dags/{d.scenario.dag_id}/clearTaskInstances", json=body)
    return sorted(ti["task_id"] for ti in response.json().get("task_instances", []))


def wait_ended(d: Driver, what: str) -> str:
    """The run's state once it ended again (a clear resets it to queued at once)."""
    state = d.wait_run(RUN_TIMEOUT_S)
    if state == "timeout":
        raise TimeoutError(f"{what}: the run did not end within {RUN_TIMEOUT_S:.0f}s")
    return state


def _lock_refusal(d: Driver, must_say: str) -> list[str]:
    """The retry was refused at the lock: acquire_lock failed saying `must_say`, no cleared deployment
    task ran."""
    problems = []
    tis = d.tis()
    lock = tis.get(LOCK) or {}
    reason = str(d.xcom(LOCK, "failure_reason") or "")
    if lock.get("state") != "failed" or must_say not in reason:
        problems.append(
            f"{LOCK} {lock.get('state')}, reason {reason[:300]!r}: expected a refusal saying {must_say!r}"
        )
    ran = sorted(
        t
        for t, ti in tis.items()
        if t.startswith(("production.", "validation.", "complete."))
        and int(ti.get("try_number") or 0) > 1
        and ti.get("state") not in ("upstream_failed", "skipped", None)
    )
    if ran:
        problems.append(f"tasks ran again although the retry was refused: {ran}")
    # the run's final task says why this attempt ended, not the earlier attempt's record
    outcome = tis.get("outcome") or {}
    log = _log_text(d, "outcome", int(outcome.get("try_number") or 1))
    if outcome.get("state") != "failed" or must_say not in log:
        problems.append(
            f"the outcome task ({outcome.get('state')}) does not give the refusal: {log[-400:]!r}"
        )
    return problems


def _log_text(d: Driver, task_id: str, try_number: int) -> str:
    """A task's log as the UI shows it, every field of every line (the failure's message is in the
    structured line's error detail, not its event)."""
    path = f"/dags/{d.scenario.dag_id}/dagRuns/{d.run_id}/taskInstances/{task_id}/logs/{try_number}"
    response = d.api.request(
        "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
    )
    return json.dumps(response.json())


def _workload_writes_since(d: Driver, since: int) -> list[tuple[str, str]]:
    marker = f"/namespaces/{d.scenario.namespace}/"
    return [
        (e["method"], e["path"])
        for e in d.audit()[since:]
        if marker in e["path"]
        and e["method"] != "GET"
        and "/leases" not in e["path"]
        and "/configmaps" not in e["path"]
    ]


# -- p2a: wrong endpoint -> rolled back -> fixed -> unsafe clear refused -> safe clear deploys ---------


def retry_after_fix(d: Driver) -> str:
    key = d.scenario.key
    conn = app_conn_id(key)
    notes = d.env.setdefault("retry_notes", {}).setdefault(key, [])
    # the misconfiguration: the app connection points at a port nothing listens on
    d.api.request("POST", "/connections", json=_connection(conn, closed_port_url()))
    first = wait_ended(d, "attempt 1")
    record = d.xcom("record") or {}
    notes.append(f"attempt 1: {first}, record {record.get('outcome')} ({str(record.get('reason'))[:120]})")
    if first != "failed" or record.get("outcome") != "rolled_back":
        raise RuntimeError(
            f"attempt 1 should have been rolled back: run {first}, record {record.get('outcome')}"
        )

    d.env.setdefault("first_plan", {})[key] = d.xcom(PLAN)
    # the fix, without editing the spec: the connection now points at the app
    d.api.request("PATCH", f"/connections/{conn}", json=_connection(conn, d.kubesim))

    # what a person tries first: Clear the failed task (with Downstream)
    since = len(d.audit())
    cleared = clear(d, HEALTH)
    notes.append(f"clear {HEALTH}: {len(cleared)} tasks cleared, acquire_lock among them: {LOCK in cleared}")
    if LOCK not in cleared:
        raise RuntimeError(f"Airflow did not clear {LOCK} with {HEALTH}: {cleared}")
    second = wait_ended(d, "attempt 2 (clear of the failed task)")
    refused = _lock_refusal(d, f"clear task {PLAN} with Downstream")
    writes = _workload_writes_since(d, since)
    if refused or writes or second != "failed":
        raise RuntimeError(
            f"the unsafe retry was not refused cleanly: run {second}; {refused}; writes {writes}"
        )
    notes.append(f"attempt 2 refused at the lock: {str(d.xcom(LOCK, 'failure_reason'))[:160]}")

    # what the refusal says to do: retry from the start of production
    cleared = clear(d, PLAN)
    notes.append(f"clear {PLAN}: {len(cleared)} tasks cleared")
    return (
        "wrong endpoint -> rolled back; connection fixed; clear of validation.health refused; cleared " + PLAN
    )


def retried_and_deployed(d: Driver, r: Result) -> list[str]:
    """The final attempt deployed and says it was a retry: record, run note, Slack."""
    problems: list[str] = []
    r.notes += d.env.get("retry_notes", {}).get(d.scenario.key, [])
    record = r.record or {}
    retry = record.get("retry") or (record.get("extra") or {}).get("retry") or {}
    if record.get("outcome") != "succeeded":
        problems.append(f"record outcome {record.get('outcome')!r}, expected succeeded")
    if retry.get("attempt") != 3 or retry.get("rerun_from") != PLAN:
        problems.append(f"the record does not say retry attempt 3 from {PLAN}: {retry}")
    if retry.get("previous_outcome") != "rolled_back":
        problems.append(f"the record does not say the earlier attempt was rolled back: {retry}")
    if record.get("rollback") is not None:
        problems.append(
            f"the record holds a rollback result although this attempt did not roll back: {record.get('rollback')}"
        )
    note = str(d.api.dag_run(d.scenario.dag_id, d.run_id).get("note") or "")
    if "retry (attempt 3)" not in note:
        problems.append(f"the run note does not say it is a retry: {note[:300]!r}")
    announced = d.xcom("announce_outcome") or {}
    if "retry (attempt 3)" not in str(announced.get("text")):
        problems.append(f"the Slack outcome does not say it is a retry: {str(announced.get('text'))[:200]!r}")
    first, final = d.env.get("first_plan", {}).get(d.scenario.key) or {}, d.xcom(PLAN) or {}
    if not first.get("recorded_at") or first.get("recorded_at") != final.get("recorded_at"):
        problems.append(
            f"the retry did not re-use attempt 1's rollback plan (recorded at {first.get('recorded_at')}, "
            f"now {final.get('recorded_at')})"
        )
    tis = d.tis()
    for task in (LOCK, PLAN, "production.canary.step_1", HEALTH):
        if int((tis.get(task) or {}).get("try_number") or 0) < 2:
            problems.append(f"{task} did not run again (try {(tis.get(task) or {}).get('try_number')})")
    stable = d.get(f"/apis/apps/v1/namespaces/{d.scenario.namespace}/deployments/{d.scenario.service}") or {}
    images = [
        c["image"] for c in stable.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    ]
    if image(d.scenario.service, NEW) not in images:
        problems.append(f"production's stable Deployment runs {images}, not {NEW}")
    return problems


# -- p2b: rolled back, line stopped -> the retry is refused ---------------------------------------


def retry_with_line_stopped(d: Driver) -> str:
    key = d.scenario.key
    notes = d.env.setdefault("retry_notes", {}).setdefault(key, [])
    first = wait_ended(d, "attempt 1")
    record = d.xcom("record") or {}
    notes.append(f"attempt 1: {first}, record {record.get('outcome')}")
    if record.get("outcome") != "rolled_back":
        raise RuntimeError(f"attempt 1 should have been rolled back: {record.get('outcome')}")
    # a person clears the failed analysis: the canary it would judge was deleted by the rollback
    since = len(d.audit())
    clear(d, ANALYSIS)
    second = wait_ended(d, "attempt 2 (clear of the failed canary analysis)")
    refused = _lock_refusal(d, f"resume at {ANALYSIS}")
    reason = str(d.xcom(LOCK, "failure_reason") or "")
    if "production.canary.step_1" not in reason:
        refused.append(f"the refusal does not name the kept canary step: {reason[:300]!r}")
    writes = _workload_writes_since(d, since)
    if refused or writes or second != "failed":
        raise RuntimeError(
            f"the canary analysis retry was not refused cleanly: run {second}; {refused}; writes {writes}"
        )
    notes.append(f"attempt 2 (clear {ANALYSIS}) refused at the lock: {reason[:160]}")

    s = d.scenario
    mark = StopMark(
        s.service,
        s.namespace,
        d.run_id,
        "written by the test as a failed rollback writes it",
        "2026-01-01T00:00:00+00:00",
    )
    requests.post(
        f"{d.kubesim}/api/v1/namespaces/{s.namespace}/configmaps", json=mark_body(mark), timeout=10
    ).raise_for_status()
    since = len(d.audit())
    d.env.setdefault("audit_since", {})[key] = since
    cleared = clear(d, PLAN)
    notes.append(f"line stopped; clear {PLAN}: {len(cleared)} tasks cleared")
    return f"v3 rolled back; clear of {ANALYSIS} refused; stop mark written; cleared {PLAN}"


def retry_refused_for_stopped_line(d: Driver, r: Result) -> list[str]:
    r.notes += d.env.get("retry_notes", {}).get(d.scenario.key, [])
    problems = _lock_refusal(d, "line is stopped")
    since = d.env.get("audit_since", {}).get(d.scenario.key)
    if since is None:
        return [*problems, "the retry was never made"]
    writes = _workload_writes_since(d, since)
    if writes:
        problems.append(f"writes after the refused retry: {writes}")
    return problems


def _spec(key: str) -> dict[str, Any]:
    return {"endpoints": {"connection": app_conn_id(key)}}


RETRY_SCENARIOS: list[Scenario] = [
    Scenario(
        "p2a-retry-after-fix",
        "app connection wrong -> fixed, retried by Clear",
        "validation health",
        NEW,
        ("deployed",),
        strike=retry_after_fix,
        spec=_spec("p2a-retry-after-fix"),
        check=retried_and_deployed,
    ),
    Scenario(
        "p2b-retry-line-stopped",
        "Clear of the failed canary analysis; Clear while the line is stopped",
        "after a rollback",
        BAD,
        ("line stopped",),
        strike=retry_with_line_stopped,
        check=retry_refused_for_stopped_line,
    ),
]
