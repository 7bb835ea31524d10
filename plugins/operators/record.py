"""RecordDeploymentOperator: collect the run's XComs into the deployment record; write the run note.

The DAG author maps record fields to task ids (`sources`), so this operator does not know the DAG's
shape. A source is "task_id" (its return value) or "task_id:xcom_key"; `metrics` (and any field
given a list) becomes {task_id: value}. Task states and durations come from the Task SDK
(`ti.get_task_states`, `ti.get_task_breadcrumbs`): tasks have no DB access in Airflow 3.

DAG run note: Airflow 3.3's execution API (what tasks can call) has no endpoint to change a run's
note - only to set one on a run it *triggers*. The one real path is the public REST API
`PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}` with {"note": ...}, which needs credentials. So the
note is written when an Airflow connection `airlock_api` exists (conn id configurable):
  host = the API server's base URL (e.g. http://airflow-apiserver:8080), and either
  login + password (a token is fetched from POST /auth/token - simple auth manager and FAB both
  serve it) or only password = a ready bearer token (JWT).
Without it the note is skipped with a log line; the record itself is always the task's XCom.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook, BaseOperator, Context, TriggerRule

from airlock import record as records
from airlock.spec import spec_from
from operators.lease import ACQUIRE_LOCK_TASK_ID
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.secrets import mask_secret, masked
from operators.validate import triggered_by
from operators.xcom_keys import FAILURE_REASON_KEY, RETRY_KEY, RETURN_VALUE

API_CONN_ID = "airlock_api"
# states of a task that did not run (this attempt): whatever XCom it has is an earlier attempt's
_DID_NOT_RUN = ("skipped", "upstream_failed", "none", "removed", "scheduled", "queued")


class RecordDeploymentOperator(DashboardLinkMixin, RequestBound, BaseOperator):
    """Build, log and return the deployment record (XCom: the record dict, see airlock.record).

    :param sources: record field -> "task_id" | "task_id:key" | [those], e.g.
        {"window": "window_gate", "preflight": "preflight:checks", "plan": "record_plan",
         "metrics": ["canary_10_metrics", "canary_50_metrics"], "rollback": "rollback"}
    """

    ui_color = "#e8f0fe"
    request_optional = True  # a run whose validation failed still gets a record of why

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        sources: dict[str, str | list[str]],
        api_conn_id: str = API_CONN_ID,
        trigger_rule: str = TriggerRule.ALL_DONE,
        **kwargs: Any,
    ) -> None:
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.spec = spec
        self.sources = sources
        self.api_conn_id = api_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        ti, dag_run = context["ti"], context["dag_run"]
        self.log.info("Collecting the deployment record of %s from: %s", ti.run_id, json.dumps(self.sources))
        states, durations = self._task_states(ti)
        values = {field: self._pull(ti, source, states) for field, source in self.sources.items()}
        retry = self._pull_one(ti, f"{ACQUIRE_LOCK_TASK_ID}:{RETRY_KEY}", states)
        if retry:  # this run was retried (a person cleared a task after it failed): airlock.run_retry
            values["retry"] = retry
        failures = {}
        for task_id, state in states.items():
            if records.normalise_state(state) == "failed":
                reason = ti.xcom_pull(task_ids=task_id, key=FAILURE_REASON_KEY)
                if reason:
                    failures[task_id] = reason
        values["failure"] = {**failures, **(values.get("failure") or {})}
        request = self.run_request if self.has_request else None
        self._stop_line_if_rollback_died(spec, ti.run_id, states, values, request)
        run = {
            "service": spec.service,
            "version": request.version if request else None,
            "strategy": request.strategy if request else None,
            "risk": request.risk if request else None,
            "change_summary": request.change_summary if request else "",
            "dry_run": request.dry_run if request else False,
            "run_id": ti.run_id,
            "dag_id": ti.dag_id,
            "triggered_by": request.triggered_by if request else triggered_by(dag_run),
            "container": spec.container,
            "start": getattr(dag_run, "start_date", None),
        }
        record = records.build_record(
            run=run,
            values=values,
            task_states=states,
            ignore_tasks=[self.task_id],
            end=datetime.now(UTC),
            task_durations=durations,
        )
        # what Airflow masks in logs (connection passwords, mask_secret values) is masked in the record
        # too: the record also goes to XCom and the run note, which Airflow does not mask
        record = masked(record)
        summary = records.summarise(record)
        self.log.info(
            "Deployment record (outcome %s):\n%s",
            record["outcome"],
            json.dumps(record, indent=2, default=str),
        )
        self.log.info("Summary:\n%s", summary)
        self.write_note(ti.dag_id, ti.run_id, summary)
        as_json: dict[str, Any] = json.loads(json.dumps(record, default=str))  # what XCom will hold
        return as_json

    def _stop_line_if_rollback_died(
        self, spec: Any, run_id: str, states: dict[str, str], values: dict[str, Any], request: Any
    ) -> None:
        """A production rollback that failed without leaving a stop mark died before its own failure
        handling could run: its process was killed (SIGKILL, OOM, a lost node), and in Airflow 3 a task
        whose process dies under a live supervisor is marked failed without its on_failure_callback
        (seen in the fault matrix, f05). Production may be half-restored, so stop the line here, before
        the lock is released (release_lock keeps a stopped run's lease); the mark goes into the record."""
        source = self.sources.get("rollback")
        if not isinstance(source, str) or values.get("line_stopped"):
            return
        task_id = source.partition(":")[0]
        if records.normalise_state(states.get(task_id, "")) != "failed":
            return
        # lazy: operators.rollback pulls in the Kubernetes layer, which a record without one never needs
        from operators.rollback import stop_the_line

        self.log.error(
            "The production rollback (task %s) failed without stopping the line itself: its process "
            "probably died before its failure handling ran. Stopping the line now, as the rollback would have.",
            task_id,
        )
        reason = f"rollback task {task_id} failed without finishing (its process died): production may be half-restored"
        mark = stop_the_line(spec, run_id, reason, self.log, dry_run=bool(request and request.dry_run))
        if mark is not None:
            values["line_stopped"] = mark.to_dict()

    # -- inputs -------------------------------------------------------------------------------------

    def _pull(self, ti: Any, source: str | list[str], states: dict[str, str]) -> Any:
        if isinstance(source, list):
            return {ref.split(":", 1)[0]: self._pull_one(ti, ref, states) for ref in source}
        return self._pull_one(ti, source, states)

    @staticmethod
    def _pull_one(ti: Any, ref: str, states: dict[str, str]) -> Any:
        task_id, _, key = ref.partition(":")
        if task_id in states and records.normalise_state(states[task_id]) in _DID_NOT_RUN:
            # A task that did not run in this attempt has no value in it. Its XComs are only deleted
            # when it runs again, so after a retry (a person cleared the run's tasks) a task the
            # scheduler skipped still holds the earlier attempt's value - the rollback's result of
            # attempt 1 would make a retry that deployed read "rolled back".
            return None
        return ti.xcom_pull(task_ids=task_id, key=key or RETURN_VALUE)

    def _task_states(self, ti: Any) -> tuple[dict[str, str], dict[str, float | None]]:
        try:
            states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        except Exception as exc:  # outside a supervised task there is no API to ask
            self.log.warning("Task states unavailable (%s); the outcome is judged from XComs only.", exc)
            return {}, {}
        durations: dict[str, float | None] = {}
        try:
            for crumb in ti.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=ti.run_id):
                durations[str(crumb["task_id"])] = crumb.get("duration")
        except Exception as exc:
            self.log.info("Task durations unavailable (%s).", exc)
        return {str(k): str(v) for k, v in states.items()}, durations

    # -- the DAG run note ---------------------------------------------------------------------------

    def write_note(self, dag_id: str, run_id: str, note: str) -> bool:
        """PATCH the run's note through the public REST API; never fails the task."""
        try:
            conn = BaseHook.get_connection(self.api_conn_id)
        except Exception:
            self.log.info(
                "DAG run note not written: connection %r is not set. Tasks cannot change a run's note in "
                "Airflow 3 without the REST API; see plugins/operators/record.py for the connection format.",
                self.api_conn_id,
            )
            return False
        try:
            base = _base_url(conn)
            headers = {"Authorization": f"Bearer {_token(conn, base)}"}
            url = f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
            import requests  # here, not at the top: the DAG file imports this module at every parse

            response = requests.patch(
                url, params={"update_mask": "note"}, json={"note": note}, headers=headers, timeout=10
            )
            response.raise_for_status()
        except Exception as exc:
            self.log.warning("DAG run note not written (%s); the record is still in this task's XCom.", exc)
            return False
        self.log.info("DAG run note written via %s.", base)
        return True


def _base_url(conn: Any) -> str:
    host = str(conn.host or "").rstrip("/")
    if not host:
        raise ValueError("connection has no host; set it to the API server URL, e.g. http://localhost:8080")
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


def _token(conn: Any, base: str) -> str:
    if conn.login:
        import requests  # as above

        response = requests.post(
            f"{base}/auth/token", json={"username": conn.login, "password": conn.password or ""}, timeout=10
        )
        response.raise_for_status()
        token = str(response.json()["access_token"])
        mask_secret(token)  # a bearer token for the REST API: masked in logs like the password it came from
        return token
    if conn.password:
        return str(conn.password)
    raise ValueError("connection has neither login/password nor a token in the password field")
