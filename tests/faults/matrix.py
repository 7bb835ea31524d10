"""Driving the fault matrix: one thread per scenario against one real Airflow, then the invariant.

Each scenario triggers its service's DAG through the REST API, waits for the phase it targets (a task
in a given state), strikes (kubesim fault, SIGKILL, component restart, outage), follows the run to
its end and checks the cluster:

* one version everywhere: every ready pod of the app, every pod the Service selects and the
  template of every Deployment with replicas runs the new version or the previous one; the canary
  is at 0 (or gone); no colour with replicas that the Service does not select;
* that version agrees with the run: new <=> the run succeeded;
* a deployment record (the record task's XCom) for this run;
* the deploy lock released (no holder on Lease airlock-<service>);
* Slack told: the outcome message reached the Slack stand-in (or, for a Slack outage, the record
  exists and the announce task says it could not send).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from demo.airflow_api import TERMINAL_RUN_STATES, AirflowAPI
from demo.slack_standin import message_text
from tests.faults.world import NEW, OLD, REGISTRY

RUN_TIMEOUT_S = 1200.0


@dataclass
class Scenario:
    key: str  # short id, also the service name prefix and namespace
    fault: str  # what strikes, for the table
    phase: str  # when, for the table
    version: str  # the version deployed (v2 healthy, v3 bad, v4 slow to start)
    expect: tuple[str, ...]  # acceptable outcomes: "deployed", "rolled back", "stopped before production"
    strike: Callable[[Driver], str] | None = None  # waits for the phase, injects, returns what it did
    # runs before the trigger, returns what it did (f25 writes the spec's window for this moment)
    before_trigger: Callable[[Driver], str] | None = None
    # started before the others' 2 s stagger: a scenario that lasts longer than the rest (f25 waits minutes
    # for its window) would otherwise set the matrix's wall time from the end of the stagger
    starts_first: bool = False
    spec: dict[str, Any] = field(default_factory=dict)  # overrides of the lean spec
    strategy: str = "canary"
    conf: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Driver, Result], list[str]] | None = None  # extra invariant checks -> problems
    xfail: str | None = None
    # two installations: a second Airflow deploys this version of the same service at the same moment
    peer_version: str | None = None
    # the run loses its deploy lock to another holder mid-run: from then on it must write nothing (the
    # other holder may be deploying), so it cannot put production back on one version; it must stop the
    # line instead and leave production as it was when it lost the lock (checked by the scenario's
    # `check`). Only then is a mixed production accepted - reported as MIXED in the table, never hidden.
    fenced_out: bool = False

    @property
    def service(self) -> str:
        return self.key

    @property
    def namespace(self) -> str:
        return f"ns-{self.key}"

    @property
    def dag_id(self) -> str:
        return f"deploy_{self.key}"


@dataclass
class Result:
    scenario: Scenario
    run_id: str = ""
    state: str = ""
    outcome: str = ""
    struck: str = ""
    invariant: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    record: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class PatientAPI(AirflowAPI):
    """The REST client, patient with an API server that a loaded machine answers slowly: a call that
    times out or cannot connect is asked again (reads, and a trigger whose answer was lost would
    show up as a second run - so trigger goes through `request_once`)."""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        for attempt in range(8):
            try:
                return super().request(method, path, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if method != "GET" or attempt == 7:
                    raise
                time.sleep(5)
        raise AssertionError("unreachable")


class Driver:
    """One scenario's handle on the stack: its run, its tasks, its faults."""

    def __init__(self, stack: Any, scenario: Scenario, env: dict[str, Any]) -> None:
        assert stack.api is not None
        self.stack = stack
        self.scenario = scenario
        self.env = env  # shared objects of the matrix (outage proxies, slack receivers, ...)
        self.api = PatientAPI(stack.api.base_url, "admin", stack.password)
        self.kubesim = stack.kubesim_url
        self.run_id = ""
        self.started = 0.0

    # -- Airflow -----------------------------------------------------------------------------
    def trigger(self) -> None:
        conf = {
            "version": self.scenario.version,
            "strategy": self.scenario.strategy,
            "window": "now",
            "change_summary": f"fault matrix: {self.scenario.fault} during {self.scenario.phase}",
            **self.scenario.conf,
        }
        self.run_id = self.api.trigger(self.scenario.dag_id, conf)["dag_run_id"]
        self.started = time.monotonic()

    def tis(self) -> dict[str, dict[str, Any]]:
        return {ti["task_id"]: ti for ti in self.api.task_instances(self.scenario.dag_id, self.run_id)}

    def wait_task(
        self, task_id: str, states: tuple[str, ...], timeout: float = RUN_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll until `task_id` is in one of `states`; the run ending first is an error. (No shorter
        limit than the run's: with every scenario starting at once, a loaded 2-core machine took more
        than 5 minutes to reach a canary step, and a strike that gave up then never struck.)"""
        deadline = time.monotonic() + timeout
        last = ""
        polls = 0
        while time.monotonic() < deadline:
            ti = self.tis().get(task_id) or {}
            last = ti.get("state") or "none"
            if last in states:
                return ti
            polls += 1
            if polls % 5 == 0:
                run = self.api.dag_run(self.scenario.dag_id, self.run_id)
                if run.get("state") in TERMINAL_RUN_STATES:
                    raise RuntimeError(
                        f"the run ended ({run['state']}) before {task_id} was {'/'.join(states)}"
                    )
            time.sleep(1.0)
        raise TimeoutError(f"{task_id} not {'/'.join(states)} within {timeout:.0f}s (last: {last})")

    def ti_id(self, task_id: str, timeout: float = 300) -> str:
        """The task instance's id (Airflow's task runner puts it in its process title)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ti = self.tis().get(task_id)
            if ti and ti.get("id"):
                return str(ti["id"])
            time.sleep(1.0)
        raise TimeoutError(f"no task instance {task_id} within {timeout:.0f}s")

    def wait_run(self, timeout: float = RUN_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = str(self.api.dag_run(self.scenario.dag_id, self.run_id).get("state"))
            if state in TERMINAL_RUN_STATES:
                return state
            time.sleep(4)
        return "timeout"

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.api.xcom(self.scenario.dag_id, self.run_id, task_id, key)

    # -- kubesim -----------------------------------------------------------------------------
    def inject(self, **fault: Any) -> None:
        requests.post(f"{self.kubesim}/_sim/faults", json=fault, timeout=10).raise_for_status()

    def ns_path(self, resource: str = "*") -> str:
        """A fault path glob for this scenario's namespace (`deployments*` covers /scale and /status)."""
        group = "/api/v1" if resource in ("pods*", "services*", "endpoints*") else "/apis/*"
        return f"{group}/namespaces/{self.scenario.namespace}/{resource}"

    def audit(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.kubesim}/_sim/audit", timeout=10).json())

    def writes(self, workload_only: bool = False) -> list[dict[str, Any]]:
        """Writes to this scenario's namespace; `workload_only`: not the deploy lock's Lease nor the
        stop-the-line ConfigMap (a fenced write renews the Lease first)."""
        marker = f"/namespaces/{self.scenario.namespace}/"
        found = [e for e in self.audit() if marker in e["path"]]
        if workload_only:
            found = [e for e in found if "/leases" not in e["path"] and "/configmaps" not in e["path"]]
        return found

    def get(self, path: str) -> Any:
        r = requests.get(f"{self.kubesim}{path}", timeout=10)
        return r.json() if r.status_code == 200 else None


# -- the invariant ------------------------------------------------------------------------------


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _image(template_or_pod_spec: dict[str, Any]) -> str:
    containers = template_or_pod_spec.get("containers") or []
    app = [c for c in containers if c.get("name") == "app"] or containers
    return str(app[0]["image"]) if app else "?"


def cluster_state(d: Driver) -> tuple[str | None, list[str]]:
    """(the one version everywhere, or None; the problems found)."""
    s = d.scenario
    ns, svc = s.namespace, s.service
    problems: list[str] = []
    deployments = (d.get(f"/apis/apps/v1/namespaces/{ns}/deployments") or {}).get("items", [])
    pods = (d.get(f"/api/v1/namespaces/{ns}/pods") or {}).get("items", [])
    service = d.get(f"/api/v1/namespaces/{ns}/services/{svc}") or {}
    selector = (service.get("spec") or {}).get("selector") or {}
    app_pods = [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == svc and _ready(p)]
    ready_images = {_image(p["spec"]) for p in app_pods}
    selected = [
        p for p in app_pods if selector and selector.items() <= (p["metadata"].get("labels") or {}).items()
    ]
    selected_images = {_image(p["spec"]) for p in selected}
    live = {
        dep["metadata"]["name"]: _image(dep["spec"]["template"]["spec"])
        for dep in deployments
        if int(dep["spec"].get("replicas") or 0) > 0
    }
    canary = [dep for dep in deployments if dep["metadata"]["name"] == f"{svc}-canary"]
    if canary and int(canary[0]["spec"].get("replicas") or 0) > 0:
        problems.append(f"canary {svc}-canary still has {canary[0]['spec']['replicas']} replicas")
    if not selected:
        problems.append(f"the Service selects no ready pod (selector {selector})")
    images = ready_images | selected_images | set(live.values())
    if len(images) != 1:
        problems.append(
            f"mixed versions: ready pods {sorted(ready_images)}, selected {sorted(selected_images)}, "
            f"deployments with replicas {live}"
        )
    version = images.pop().rsplit(":", 1)[-1] if len(images) == 1 else None
    if version is not None and version not in (OLD, s.version):
        problems.append(f"version {version} is neither the previous ({OLD}) nor the new ({s.version})")
    return version, problems


def check_invariant(d: Driver, result: Result, settle_s: float = 45.0) -> None:
    s = d.scenario
    # pods still terminating or starting right after the run ended settle within seconds
    deadline = time.monotonic() + settle_s
    while True:
        version, problems = cluster_state(d)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(2)
    mark = stop_mark(d)
    lease = d.get(f"/apis/coordination.k8s.io/v1/namespaces/{s.namespace}/leases/airlock-{s.service}")
    holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
    fenced_note = ""
    if (
        s.fenced_out
        and problems
        and mark is not None
        and mark.get("failed_run") == d.run_id
        and holder
        and not str(holder).endswith("/" + d.run_id)
    ):
        # fenced out and the line stopped: production is left for a human (see Scenario.fenced_out)
        fenced_note = f"MIXED, left for a human after the fence ({'; '.join(problems)})"
        result.notes.append(fenced_note)
        problems = []
    deployed = result.state == "success"
    if version is not None:
        if deployed and version != s.version:
            problems.append(f"the run succeeded but production runs {version}, not {s.version}")
        if not deployed and version != OLD:
            problems.append(f"the run did not succeed but production runs {version}, not the previous {OLD}")
    record = d.xcom("record")
    result.record = record if isinstance(record, dict) else None
    if not result.record or result.record.get("run_id") != d.run_id:
        problems.append(f"no deployment record for run {d.run_id} (record XCom: {str(record)[:200]})")
    if mark is not None:
        # the line is stopped: the mark must name this run; its lock may stay held (see stop_line.py)
        if mark.get("failed_run") != d.run_id:
            problems.append(f"the line is stopped, but by {mark.get('failed_run')!r}, not this run")
    elif holder and not lease_expired(lease):
        problems.append(f"deploy lock still held by {holder!r}")
    announced = d.xcom("announce_outcome")
    slack_ok, slack_note = slack_told(d, announced)
    if not slack_ok:
        problems.append(slack_note)
    if s.check is not None:
        problems += s.check(d, result)
    result.problems += problems
    where = f"all {version}" if version else (fenced_note[:160] or "MIXED")
    lock_note = "line stopped" if mark is not None else "lock released"
    result.invariant = (
        f"{where}, record, {lock_note}, {slack_note}" if not problems else f"VIOLATED: {'; '.join(problems)}"
    )


def lease_expired(lease: dict[str, Any] | None) -> bool:
    """An expired lease is free for anyone (airlock/kube/lock.py lease_holder)."""
    spec = (lease or {}).get("spec") or {}
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return True
    at = datetime.fromisoformat(str(renewed).replace("Z", "+00:00"))
    return at + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)) < datetime.now(UTC)


def stop_mark(d: Driver) -> dict[str, Any] | None:
    """The stop-the-line mark (ConfigMap airlock-stop-<service>, see airlock/stop_line.py), or None."""
    cm = d.get(f"/api/v1/namespaces/{d.scenario.namespace}/configmaps/airlock-stop-{d.scenario.service}")
    return dict(cm.get("data") or {}) if isinstance(cm, dict) else None


def slack_told(d: Driver, announced: Any) -> tuple[bool, str]:
    s = d.scenario
    if not isinstance(announced, dict):
        return False, f"Slack not told: announce_outcome returned {announced!r}"
    down = d.env.get("slack_down", {}).get(s.key)
    if down is not None:
        tried = [m for m in down.messages if s.service in message_text(m)]
        if announced.get("sent") is False and tried:
            return True, f"Slack down: {len(tried)} post(s) refused, run recorded"
        return False, f"Slack outage not seen: sent={announced.get('sent')}, {len(tried)} post(s) tried"
    texts = [message_text(m) for m in d.stack.slack.messages]
    # the head of the message: the stand-in's copy went through Slack escaping (&lt; for <)
    head = str(announced.get("text") or "").split(":", 1)[0][:60]
    if announced.get("sent") and head and any(head in t and s.service in t for t in texts):
        return True, "Slack told"
    return False, f"Slack not told the outcome ({str(announced.get('text'))[:120]!r})"


def outcome_of(d: Driver, state: str) -> str:
    record = d.xcom("record")
    if state == "success":
        return "deployed"
    if stop_mark(d) is not None:
        return "line stopped"
    if isinstance(record, dict):
        if record.get("outcome") == "rolled_back":
            return "rolled back"
        if record.get("stopped_in") in ("validate", "preflight", "lock", "window") and not record.get(
            "production_changed"
        ):
            return "stopped before production"
        return f"{record.get('outcome')} (in {record.get('stopped_in')})"
    return state


def run_scenario(d: Driver) -> Result:
    s = d.scenario
    result = Result(s)
    try:
        prepared = s.before_trigger(d) if s.before_trigger is not None else ""
        d.trigger()
        result.run_id = d.run_id
        result.struck = prepared
        if s.strike is not None:
            try:
                result.struck = "; ".join(filter(None, [prepared, s.strike(d)]))
            except Exception as exc:  # noqa: BLE001 - recorded: a strike that missed its phase
                result.problems.append(f"the fault did not strike: {type(exc).__name__}: {exc}")
        result.state = d.wait_run()
        result.seconds = time.monotonic() - d.started
        result.outcome = outcome_of(d, result.state)
        if result.state == "timeout":
            result.problems.append(f"the run did not finish within {RUN_TIMEOUT_S:.0f}s")
        if result.outcome not in s.expect:
            result.problems.append(f"outcome {result.outcome!r}, expected {' or '.join(s.expect)}")
        check_invariant(d, result)
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        result.problems.append(f"{type(exc).__name__}: {exc}")
        result.notes.append(traceback.format_exc())
        result.invariant = result.invariant or "not checked"
    if d.started and not result.seconds:
        result.seconds = time.monotonic() - d.started
    return result


def run_all(
    stack: Any, scenarios: list[Scenario], env: dict[str, Any], stagger_s: float = 2.0
) -> dict[str, Result]:
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def one(s: Scenario) -> None:
        r = run_scenario(Driver(stack, s, env))
        with lock:
            results[s.key] = r

    threads = []
    for s in sorted(scenarios, key=lambda s: not s.starts_first):  # stable: the others keep their order
        t = threading.Thread(target=one, args=(s,), name=f"fault-{s.key}", daemon=True)
        t.start()
        threads.append(t)
        time.sleep(stagger_s)
    for t in threads:
        t.join(RUN_TIMEOUT_S + 300)
    for s in scenarios:
        results.setdefault(
            s.key, Result(s, problems=["the scenario thread did not finish"], invariant="not checked")
        )
    return results


def table(results: list[Result]) -> str:
    rows = [("scenario", "fault", "phase", "outcome", "invariant", "seconds")]
    for r in results:
        mark = "xfail " if r.scenario.xfail else ""
        rows.append(
            (
                r.scenario.key,
                r.scenario.fault,
                r.scenario.phase,
                mark + (r.outcome or "-"),
                ("ok: " if r.ok else "") + (r.invariant or "-"),
                f"{r.seconds:.0f}",
            )
        )
    widths = [min(max(len(row[i]) for row in rows), cap) for i, cap in enumerate((24, 40, 28, 28, 200, 7))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i][: widths[i]].ljust(widths[i]) for i in range(5)] + [row[5].rjust(widths[5])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(results: list[Result]) -> str:
    return json.dumps(
        [
            {
                "scenario": r.scenario.key,
                "fault": r.scenario.fault,
                "phase": r.scenario.phase,
                "outcome": r.outcome,
                "invariant": r.invariant,
                "seconds": round(r.seconds, 1),
                "struck": r.struck,
                "problems": r.problems,
                "notes": r.notes,
                "run_id": r.run_id,
            }
            for r in results
        ],
        indent=2,
    )


def image(service: str, version: str) -> str:
    return f"{REGISTRY}/{service}:{version}"


__all__ = ["NEW", "OLD", "Driver", "Result", "Scenario", "image", "run_all", "table"]
