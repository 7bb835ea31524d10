"""Follow one DAG run through the REST API and narrate it: phase, task, step weight, verdict numbers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from demo.airflow_api import TERMINAL_RUN_STATES, AirflowAPI

ANALYSIS_TASKS = ("analysis_", "soak", "metrics")
INTERESTING_STATES = {"running", "deferred", "success", "failed", "skipped", "upstream_failed"}


@dataclass
class RunResult:
    version: str
    strategy: str
    run_id: str
    state: str
    seconds: float
    production_images: list[str]
    reason: str = ""
    rollback: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.state == "success":
            return "deployed"
        if self.rollback:
            return "rolled back"
        return self.state


def _phase(task_id: str) -> str:
    return task_id.split(".", 1)[0] if "." in task_id else "run"


def _verdict_line(verdict: Any) -> str:
    if not isinstance(verdict, dict):
        return ""
    decision = verdict.get("decision") or verdict.get("status") or ""
    reason = verdict.get("reason") or ""
    return f"{decision}: {reason}".strip(": ")


class RunWatcher:
    def __init__(
        self, api: AirflowAPI, dag_id: str, run_id: str, kubesim_url: str, say: Callable[[str], None]
    ) -> None:
        self.api, self.dag_id, self.run_id, self.kubesim_url, self.say = api, dag_id, run_id, kubesim_url, say
        self.seen: dict[str, str] = {}
        self.request: dict[str, Any] = {}

    def _weight(self, task_id: str) -> str:
        if ".canary.step_" not in task_id and ".canary.analysis_" not in task_id:
            return ""
        slot = int(task_id.rsplit("_", 1)[1]) - 1
        steps = (self.request.get("canary_steps") or [])[:-1]
        return f" (canary weight {steps[slot]} %)" if slot < len(steps) else ""

    def _narrate(self, ti: dict[str, Any]) -> None:
        task_id, state = ti["task_id"], ti.get("state") or "none"
        if self.seen.get(task_id) == state or state not in INTERESTING_STATES:
            return
        self.seen[task_id] = state
        clock = time.strftime("%H:%M:%S")
        extra = self._weight(task_id)
        if state == "deferred":
            extra += " - waiting in the triggerer, no worker slot held"
        self.say(f"  {clock} [{_phase(task_id):10}] {task_id:40} {state}{extra}")
        if task_id == "validate" and state == "success":
            self.request = self.api.xcom(self.dag_id, self.run_id, "validate") or {}
        if any(key in task_id for key in ANALYSIS_TASKS) and state == "success":
            line = _verdict_line(self.api.xcom(self.dag_id, self.run_id, task_id))
            if line:
                self.say(f"           verdict: {line}")
        if state == "failed":
            reason = self._failure_reason(ti)
            if reason:
                self.say(f"           reason: {reason}")

    def _failure_reason(self, ti: dict[str, Any]) -> str:
        # Airlock's gates push the sentence they fail with; fall back to the task log otherwise
        pushed = self.api.xcom(self.dag_id, self.run_id, ti["task_id"], key="failure_reason")
        if pushed:
            return str(pushed)[:400]
        try:
            log = self.api.task_log(
                self.dag_id, self.run_id, ti["task_id"], max(1, int(ti.get("try_number") or 1))
            )
        except requests.RequestException:
            return ""
        lines = [ln for ln in log.splitlines() if ln.strip()]
        for marker in ("AirflowFailException", "Task failed with exception", "FAIL", "rollback"):
            hits = [ln for ln in lines if marker in ln]
            if hits:
                return hits[-1].strip()[:400]
        return lines[-1].strip()[:400] if lines else ""

    def production_images(self) -> list[str]:
        url = f"{self.kubesim_url}/apis/apps/v1/namespaces/production/deployments"
        items = requests.get(url, timeout=10).json().get("items", [])
        out = []
        for d in items:
            if d["metadata"]["labels"].get("app") == "demo-api" or d["metadata"]["name"].startswith(
                "demo-api"
            ):
                images = ",".join(
                    c["image"].rsplit(":", 1)[-1] for c in d["spec"]["template"]["spec"]["containers"]
                )
                out.append(f"{d['metadata']['name']}={images}x{d['spec'].get('replicas', 0)}")
        return sorted(out)

    def follow(self, timeout: float) -> RunResult:
        started = time.monotonic()
        state = "queued"
        tis: list[dict[str, Any]] = []
        while time.monotonic() - started < timeout:
            run = self.api.dag_run(self.dag_id, self.run_id)
            state = run.get("state") or state
            tis = self.api.task_instances(self.dag_id, self.run_id)
            for ti in sorted(tis, key=lambda t: (t.get("start_date") or "9", t["task_id"])):
                self._narrate(ti)
            if state in TERMINAL_RUN_STATES:
                break
            time.sleep(2)
        seconds = time.monotonic() - started
        rollback = self.api.xcom(self.dag_id, self.run_id, "rollback")
        record = self.api.xcom(self.dag_id, self.run_id, "record") or {}
        reason = ""
        if isinstance(rollback, dict):
            reason = str(rollback.get("reason") or "")
        if not reason and isinstance(record, dict):
            reason = str(record.get("reason") or record.get("outcome_reason") or "")
        return RunResult(
            version=str(self.request.get("version") or "?"),
            strategy=str(self.request.get("strategy") or "?"),
            run_id=self.run_id,
            state=state,
            seconds=seconds,
            production_images=self.production_images(),
            reason=reason,
            rollback=rollback if isinstance(rollback, dict) else None,
        )


def summary_table(results: list[RunResult]) -> str:
    header = f"{'version':8} {'strategy':9} {'outcome':12} {'time':>6}  production after the run / reason"
    lines = ["Summary", header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.version:8} {r.strategy:9} {r.outcome:12} {r.seconds:5.0f}s  {' '.join(r.production_images)}"
        )
        if r.reason:
            lines.append(f"{'':38}reason: {r.reason[:300]}")
    return "\n".join(lines)
