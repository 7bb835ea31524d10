"""`make scaleout`: Airlock on the CeleryExecutor (PostgreSQL + Redis), survived crashes, throughput.

1. Fault run: four services deploy at once against kubesim - a healthy canary, a bad canary (25 %
   errors), a blue-green and a rolling update - and mid-run one Celery worker (one that is running a
   task) and one scheduler are killed with SIGKILL. Every run must end deployed or cleanly rolled back:
   the ready pods behind each live Service all run the new image or all the old one, no canary pod is
   left, and each run has its deployment record. The killed processes are then restarted, as a
   supervisor would.
2. Throughput run: 50 services (rolling updates with short steps) triggered at once; all must finish.
   Figures: deployments per hour, p50/p95 queue-to-start latency of the tasks (start_date - queued_dttm
   in task_instance) and the peak number of busy worker slots (task instances running, sampled).

The services, their DAG folder and the kubesim scenario are generated under the work directory from
the demo's own spec (`dags/services/demo-api.yaml`) and its DAG file, with shorter steps.
"""

from __future__ import annotations

import argparse
import copy
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from demo.scaleout_stack import SCHEDULERS, WORKERS, ScaleOutStack
from demo.stack import REPO, SCRAPE_INTERVAL, Stack, StackError, run_with_stack, say

# Airlock's core lives in plugins/ (on sys.path in every Airflow process; here for the spec check)
if str(REPO / "plugins") not in sys.path:
    sys.path.append(str(REPO / "plugins"))
from airlock.spec import load_spec  # noqa: E402

BASE_SPEC = REPO / "dags" / "services" / "demo-api.yaml"
DAG_FILE = REPO / "dags" / "deploy_services.py"
IMAGE_REPO = "registry.example"
OLD, GOOD, BAD = "v1", "v2", "v3"  # v3 answers 25 % of requests with errors
THROUGHPUT_SERVICES = 50


@dataclass(frozen=True)
class Service:
    name: str
    strategy: str  # canary | blue_green | rolling
    version: str  # what the run deploys
    replicas: int
    hotfix: bool = False  # skips the staging soak (the bad canary must meet the production judge)

    @property
    def dag_id(self) -> str:
        return f"deploy_{self.name}"

    @property
    def image(self) -> str:
        return f"{IMAGE_REPO}/{self.name}"

    def conf(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "version": self.version,
            "strategy": self.strategy,
            "window": "now",
            "change_summary": f"scale-out test: {self.strategy} to {self.version}",
        }
        if self.hotfix:
            conf["risk"] = "hotfix"
        return conf


FAULT_SERVICES = (
    Service("so-canary", "canary", GOOD, replicas=4),
    Service("so-canary-bad", "canary", BAD, replicas=4, hotfix=True),
    Service("so-blue-green", "blue_green", GOOD, replicas=4),
    Service("so-rolling", "rolling", GOOD, replicas=4),
)


def throughput_services(count: int = THROUGHPUT_SERVICES) -> tuple[Service, ...]:
    return tuple(
        Service(f"so-fleet-{i:02d}", "rolling", GOOD, replicas=2, hotfix=True) for i in range(1, count + 1)
    )


# -- generated service specs, DAG folder and kubesim scenario ----------------------------------------


def service_spec(service: Service) -> dict[str, Any]:
    """The demo's spec renamed for `service`, with steps short enough for a test."""
    spec: dict[str, Any] = copy.deepcopy(yaml.safe_load(BASE_SPEC.read_text()))
    name = service.name
    spec.update(service=name, description=f"scale-out test service ({service.strategy})", image=service.image)
    spec["kubernetes"].update(deployment=name, service=name)
    strategy = spec["strategy"]
    strategy["default"] = service.strategy
    strategy["canary"] = {"steps": [50, 100], "step_duration": "15s"}
    strategy["blue_green"] = {"keep_old_for": "5s", "post_switch_duration": "10s"}
    spec["staging"] = {"soak": "6s"}
    metrics = spec["metrics"]
    metrics.pop("dashboard", None)
    # long enough for several 2 s scrapes: on a loaded machine kubesim may miss some (a window that
    # sees no request is inconclusive and rolls back - 21 of 50 runs once with 6 s)
    metrics["validation_window"] = "20s"
    spec["gates"]["incidents"]["matchers"] = ['severity="critical"', f'service="{name}"']
    spec["endpoints"].update(
        staging=f"/_sim/apps/staging/{name}",
        production=f"/_sim/apps/production/{name}",
        preview=f"/_sim/apps/production/{name}-preview",
    )
    return spec


def _app_objects(service: Service, namespace: str, replicas: int) -> list[dict[str, Any]]:
    labels = {"app": service.name}
    meta = {"name": service.name, "namespace": namespace, "labels": labels}
    container = {"name": "app", "image": f"{service.image}:{OLD}", "ports": [{"containerPort": 8080}]}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ]


def scenario(services: Sequence[Service]) -> dict[str, Any]:
    """kubesim: every service at v1 in staging and production, ~20 req/s each; v3 fails 25 % of requests."""
    healthy = {
        "ready_after_seconds": 1,
        "error_rate": 0.002,
        "latency_ms": {"p50": 40, "p95": 120, "p99": 200},
        "log_lines": ["GET /api/v1/items 200", "GET /health 200"],
    }
    bad = {
        **healthy,
        "error_rate": 0.25,
        "log_lines": ["GET /api/v1/items 200", "ERROR upstream timeout calling inventory-service"],
    }
    objects: list[dict[str, Any]] = []
    traffic: dict[str, dict[str, float]] = {}
    for service in services:
        objects += _app_objects(service, "staging", 1)
        objects += _app_objects(service, "production", service.replicas)
        traffic[f"staging/{service.name}"] = {"rps": 20}
        traffic[f"production/{service.name}"] = {"rps": 20}
    return {
        "seed": 11,
        "namespaces": ["staging", "production"],
        "nodes": 6,
        "images": {f"{IMAGE_REPO}/*:{BAD}*": bad, f"{IMAGE_REPO}/*": healthy},
        "services": traffic,
        "objects": objects,
    }


def write_fleet(workdir: Path, services: Sequence[Service]) -> tuple[Path, Path]:
    """The DAG folder (Airlock's own DAG file + one spec per service) and the kubesim scenario file.
    Each spec is validated here, so a bad one fails before anything starts."""
    dags = workdir / "dags"
    shutil.rmtree(dags, ignore_errors=True)
    (dags / "services").mkdir(parents=True)
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    for service in services:
        path = dags / "services" / f"{service.name}.yaml"
        path.write_text(yaml.safe_dump(service_spec(service), sort_keys=False))
        load_spec(path)
    scenario_path = workdir / "scenario.yaml"
    scenario_path.write_text(yaml.safe_dump(scenario(services), sort_keys=False))
    return dags, scenario_path


# -- reading what happened -------------------------------------------------------------------------


def _kube(stack: ScaleOutStack, path: str, **params: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.kubesim_url}{path}", params=params, timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json())


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@dataclass
class LiveState:
    """What users of a service get: the images of the ready pods behind its live Service."""

    images: list[str]
    ready_pods: int
    canary_replicas: int | None  # None: no canary Deployment

    def describe(self) -> str:
        canary = "no canary" if self.canary_replicas is None else f"canary at {self.canary_replicas}"
        return f"{self.ready_pods} ready pods on {', '.join(self.images) or 'nothing'}, {canary}"


def live_state(stack: ScaleOutStack, name: str) -> LiveState:
    base = "/api/v1/namespaces/production"
    service = _kube(stack, f"{base}/services/{name}") or {}
    selector = ",".join(f"{k}={v}" for k, v in (service.get("spec") or {}).get("selector", {}).items())
    pods = (_kube(stack, f"{base}/pods", labelSelector=selector) or {}).get("items", [])
    ready = [p for p in pods if _ready(p)]
    canary = _kube(stack, f"/apis/apps/v1/namespaces/production/deployments/{name}-canary")
    return LiveState(
        images=sorted({p["spec"]["containers"][0]["image"] for p in ready}),
        ready_pods=len(ready),
        canary_replicas=None if canary is None else int(canary["spec"].get("replicas") or 0),
    )


@dataclass
class RunEnd:
    service: Service
    run_id: str
    state: str
    outcome: str  # the record's: succeeded | rolled_back | failed | (none)
    production_changed: bool | None
    live: LiveState
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "OK " if not self.problems else "BAD"
        text = (
            f"  {verdict} {self.service.name:14} {self.service.strategy:10} -> {self.service.version}: "
            f"run {self.state}, record {self.outcome}; {self.live.describe()}"
        )
        return text + "".join(f"\n        problem: {p}" for p in self.problems)


def judge_end(stack: ScaleOutStack, service: Service, run_id: str, state: str, settle: float = 60) -> RunEnd:
    """Deployed (run success, all ready pods on the new image) or cleanly rolled back (run failed,
    all on the old image, production restored or never touched); no canary pod either way; a record."""
    assert stack.api is not None
    record = stack.api.xcom(service.dag_id, run_id, "record") or {}
    outcome = str(record.get("outcome") or "(no record)")
    changed = record.get("production_changed")
    want = f"{service.image}:{service.version if state == 'success' else OLD}"
    deadline = time.monotonic() + settle  # pods of a rollback may still be turning ready
    while True:
        live = live_state(stack, service.name)
        if (live.images == [want] and live.canary_replicas in (None, 0)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    end = RunEnd(service, run_id, state, outcome, changed, live)
    if state == "success":
        if outcome != "succeeded":
            end.problems.append(f"the run succeeded but its record says {outcome}")
    elif state == "failed":
        if not (outcome == "rolled_back" or (outcome == "failed" and changed is False)):
            end.problems.append(
                f"the run failed and its record says {outcome} (production changed: {changed}): "
                "neither rolled back nor stopped before production"
            )
    else:
        end.problems.append(f"the run did not finish: {state}")
    if live.images != [want]:
        end.problems.append(f"ready pods run {live.images}, expected all on {want}")
    if live.canary_replicas not in (None, 0):
        end.problems.append(f"the canary still has {live.canary_replicas} replicas")
    return end


def run_states(stack: ScaleOutStack, runs: dict[str, str]) -> dict[str, str]:
    """dag_id -> state of each (dag_id, run_id) in `runs`, from the metadata DB."""
    rows = stack.query("SELECT dag_id, run_id, state FROM dag_run WHERE dag_id = ANY(%s)", list(runs))
    return {dag_id: state for dag_id, run_id, state in rows if runs.get(dag_id) == run_id}


def wait_for_runs(stack: ScaleOutStack, runs: dict[str, str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        states = run_states(stack, runs)
        if _all_finished(states, runs) or time.monotonic() > deadline:
            return {d: states.get(d, "missing") for d in runs}
        time.sleep(3)


def unpause_all(stack: ScaleOutStack, services: Sequence[Service]) -> None:
    api = stack.api
    assert api is not None
    for service in services:
        api.wait_for_dag(service.dag_id, timeout=180)
        api.unpause(service.dag_id)


def trigger_all(stack: ScaleOutStack, services: Sequence[Service], unpause: bool = True) -> dict[str, str]:
    """Unpause every DAG first (unless done already), then trigger them back to back: dag_id -> run_id."""
    api = stack.api
    assert api is not None
    if unpause:
        unpause_all(stack, services)
    return {s.dag_id: api.trigger(s.dag_id, s.conf())["dag_run_id"] for s in services}


class SlotSampler:
    """Busy worker slots over time: task instances in state `running` (a Celery slot each), every 0.5 s."""

    def __init__(self, stack: ScaleOutStack, interval: float = 0.5) -> None:
        self.stack, self.interval = stack, interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="slot-sampler", daemon=True)

    def __enter__(self) -> SlotSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        conn = self.stack.db()
        try:
            with conn.cursor() as cur:
                while not self._stop.wait(self.interval):
                    cur.execute("SELECT count(*) FROM task_instance WHERE state = 'running'")
                    self.peak = max(self.peak, int(cur.fetchone()[0]))
                    self.samples += 1
        finally:
            conn.close()


# -- 1. the fault run ------------------------------------------------------------------------------


def running_on_workers(stack: ScaleOutStack, dag_ids: Sequence[str]) -> dict[str, list[str]]:
    """Celery worker -> the tasks it is running now (task_instance.hostname names the worker)."""
    rows = stack.query(
        "SELECT hostname, dag_id, task_id FROM task_instance WHERE state = 'running' AND dag_id = ANY(%s)",
        list(dag_ids),
    )
    out: dict[str, list[str]] = {}
    for host, dag_id, task_id in rows:
        out.setdefault(host or "?", []).append(f"{dag_id}.{task_id}")
    return out


@dataclass
class FaultRun:
    ends: list[RunEnd]
    killed_worker: str
    killed_while_running: list[str]  # the tasks that worker was running when it got SIGKILL
    killed_scheduler: str
    seconds: float

    @property
    def problems(self) -> list[str]:
        return [f"{end.service.name}: {problem}" for end in self.ends for problem in end.problems]


def _all_finished(states: dict[str, str], runs: dict[str, str]) -> bool:
    return all(states.get(dag_id) in ("success", "failed") for dag_id in runs)


def fault_run(
    stack: ScaleOutStack, services: Sequence[Service] = FAULT_SERVICES, say: Callable[[str], None] = say
) -> FaultRun:
    say(f"\n=== Fault run: {len(services)} services at once; a Celery worker and a scheduler get SIGKILL ===")
    started = time.monotonic()
    runs = trigger_all(stack, services)
    say("  triggered: " + ", ".join(f"{s.name} ({s.strategy} -> {s.version})" for s in services))
    # the worker to kill: one running a deployment step (staging or production) of a healthy release,
    # so that the crash hits work in flight while the bad canary goes on to meet its judge; the
    # scheduler: the first one (the second must take over)
    spare = {s.dag_id for s in services if s.version == BAD}
    deadline = time.monotonic() + 300
    victim, tasks = WORKERS[0], []
    while time.monotonic() < deadline and not _all_finished(run_states(stack, runs), runs):
        busy = {
            host: ts
            for host, ts in running_on_workers(stack, list(runs)).items()
            if host in WORKERS
            and any(".production." in t or ".staging." in t for t in ts)
            and not any(t.split(".", 1)[0] in spare for t in ts)
        }
        if busy:
            victim, tasks = next(iter(busy.items()))
            break
        time.sleep(0.5)
    scheduler = SCHEDULERS[0]
    doing = f"running {', '.join(tasks)}" if tasks else "running no deployment task (none was seen in 300 s)"
    say(f"  {victim} is {doing}: SIGKILL to {victim} and to {scheduler}")
    stack.kill(victim)
    stack.kill(scheduler)
    states = wait_for_runs(stack, runs, timeout=600)
    ends = [judge_end(stack, s, runs[s.dag_id], states[s.dag_id]) for s in services]
    for end in ends:
        say(end.line())
    result = FaultRun(ends, victim, tasks, scheduler, time.monotonic() - started)
    for name in (victim, scheduler):  # as a supervisor would
        log = stack.workdir / f"{name}.log"
        if log.exists():
            log.rename(log.with_suffix(".killed.log"))
        stack.start_process(name)
    stack.wait_until("both Celery workers answer", lambda: set(stack.celery_workers()) >= set(WORKERS), 180)
    say(f"  restarted {victim} and {scheduler} ({result.seconds:.0f} s for the fault run)")
    return result


# -- 2. the throughput run -------------------------------------------------------------------------


@dataclass
class Throughput:
    services: int
    finished: int
    succeeded: int
    wall_seconds: float
    deployments_per_hour: float
    latency_p50: float
    latency_p95: float
    latency_samples: int
    peak_busy_slots: int
    slots: int
    failed_runs: list[str]
    scrapes: str = "Prometheus scrapes of kubesim: not measured"
    # task instances that ran on a Celery worker (deferred ones resumed there count once)
    worker_tasks: int = 0
    skipped_on_worker: int = 0  # of those, the ones that started only to skip themselves (a wasted start)

    def lines(self) -> list[str]:
        return [
            f"{self.services} services triggered at once: {self.finished} finished, {self.succeeded} deployed, "
            f"in {self.wall_seconds:.0f} s",
            f"deployments per hour: {self.deployments_per_hour:.0f}",
            f"queue-to-start latency of tasks (start_date - queued_dttm, {self.latency_samples} tasks): "
            f"p50 {self.latency_p50:.2f} s, p95 {self.latency_p95:.2f} s",
            f"peak busy worker slots: {self.peak_busy_slots} of {self.slots}",
            f"task instances run on a worker per deployment: {self.worker_tasks / max(1, self.services):.1f} "
            f"(started there only to skip themselves: {self.skipped_on_worker})",
            self.scrapes,
        ]


def scrape_health(prometheus_url: str, seconds: float) -> str:
    """How Prometheus's scrapes of kubesim fared over the last `seconds`: every gate's data comes from
    them, so a run whose windows had no data shows here why (answered / all, the slowest, the timeout)."""
    window = f"{max(1, math.ceil(seconds))}s"

    def value(query: str) -> float | None:
        try:
            answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
            result = answer.json()["data"]["result"]
            return float(result[0]["value"][1]) if result else None
        except (requests.RequestException, ValueError, KeyError, IndexError):
            return None

    selector = '{job="kubesim"}'
    total = value(f"count_over_time(up{selector}[{window}])")
    answered = value(f"sum_over_time(up{selector}[{window}])")
    slowest = value(f"max_over_time(scrape_duration_seconds{selector}[{window}])")
    if total is None or answered is None:
        return f"Prometheus scrapes of kubesim: could not be read from {prometheus_url}"
    slow = f", the slowest took {slowest:.2f} s" if slowest is not None else ""
    return (
        f"Prometheus scrapes of kubesim during the run: {answered:.0f} of {total:.0f} answered{slow} "
        f"(interval and timeout {SCRAPE_INTERVAL})"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def why_not_deployed(stack: ScaleOutStack, dag_id: str, run_id: str, state: str) -> str:
    """One line on a run that did not deploy: its state, the tasks that failed (with their tries) and the
    record's own account (outcome, the phase that stopped it, the reason), so a failure in CI explains
    itself without the run's logs."""
    failed = stack.query(
        "SELECT task_id, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s AND state = 'failed' "
        "ORDER BY end_date",
        dag_id,
        run_id,
    )
    tasks = ", ".join(f"{task} (try {tries})" for task, tries in failed) or "none"
    assert stack.api is not None
    record = stack.api.xcom(dag_id, run_id, "record") or {}
    account = (
        f"record {record.get('outcome')}, stopped in {record.get('stopped_in')}: {record.get('reason')}"
        if record
        else "no record"
    )
    return f"{dag_id}: {state}; failed tasks: {tasks}; {account}"


def throughput_run(
    stack: ScaleOutStack, services: Sequence[Service], timeout: float = 1500, say: Callable[[str], None] = say
) -> Throughput:
    say(f"\n=== Throughput run: {len(services)} services ({services[0].strategy}) triggered at once ===")
    unpause_all(stack, services)
    with SlotSampler(stack) as sampler:
        started = time.monotonic()
        runs = trigger_all(stack, services, unpause=False)
        states = wait_for_runs(stack, runs, timeout=timeout)
        wall = time.monotonic() - started
    span_rows = stack.query(
        "SELECT EXTRACT(EPOCH FROM max(end_date) - min(queued_at)) FROM dag_run "
        "WHERE dag_id = ANY(%s) AND state IN ('success', 'failed')",
        list(runs),
    )
    span = float(span_rows[0][0] or wall)
    # a task resumed after deferral keeps its first start_date: only starts after the last queueing count
    latency_rows = stack.query(
        "SELECT EXTRACT(EPOCH FROM start_date - queued_dttm) FROM task_instance "
        "WHERE dag_id = ANY(%s) AND start_date IS NOT NULL AND queued_dttm IS NOT NULL "
        "AND start_date >= queued_dttm",
        list(runs),
    )
    latencies = sorted(float(row[0]) for row in latency_rows)
    # task_instance.hostname names the worker; tasks skipped by a branch or run in the triggerer have none
    on_workers = dict(
        stack.query(
            "SELECT state, count(*) FROM task_instance WHERE dag_id = ANY(%s) AND hostname <> '' GROUP BY state",
            list(runs),
        )
    )
    finished = [d for d, s in states.items() if s in ("success", "failed")]
    succeeded = [d for d, s in states.items() if s == "success"]
    result = Throughput(
        services=len(services),
        finished=len(finished),
        succeeded=len(succeeded),
        wall_seconds=wall,
        deployments_per_hour=len(succeeded) / span * 3600 if span > 0 else 0.0,
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        latency_samples=len(latencies),
        peak_busy_slots=sampler.peak,
        slots=len(WORKERS) * stack.worker_slots,
        failed_runs=[why_not_deployed(stack, d, runs[d], s) for d, s in states.items() if s != "success"],
        scrapes=scrape_health(stack.prometheus_url, wall),
        worker_tasks=sum(int(n) for n in on_workers.values()),
        skipped_on_worker=int(on_workers.get("skipped", 0)),
    )
    for line in result.lines():
        say(f"  {line}")
    return result


# -- make scaleout -------------------------------------------------------------------------------


def build_stack(
    workdir: Path, services: Sequence[Service], say: Callable[[str], None] = say
) -> ScaleOutStack:
    workdir.mkdir(parents=True, exist_ok=True)
    dags, scenario_path = write_fleet(workdir, services)
    return ScaleOutStack(workdir, scenario=scenario_path, dags_folder=dags, say=say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make scaleout", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=REPO / ".scaleout" / "run")
    parser.add_argument("--services", type=int, default=THROUGHPUT_SERVICES, help="for the throughput run")
    args = parser.parse_args(argv)
    fleet = throughput_services(args.services)
    say("Airlock scale-out: Airflow CeleryExecutor on PostgreSQL + Redis, against kubesim\n")
    started = time.monotonic()

    def body(stack: Stack) -> int:
        assert isinstance(stack, ScaleOutStack)
        faults = fault_run(stack)
        result = throughput_run(stack, fleet)
        ok = not faults.problems and bool(faults.killed_while_running) and result.succeeded == result.services
        say(
            f"\nTotal: {time.monotonic() - started:.0f} s. "
            + ("All runs ended as required." if ok else "FAILED.")
        )
        return 0 if ok else 1

    try:
        stack = build_stack(args.workdir, [*FAULT_SERVICES, *fleet])
    except (StackError, ValueError) as exc:
        say(f"Could not prepare the scale-out: {exc}")
        return 2
    return run_with_stack(stack, body, say)


if __name__ == "__main__":
    sys.exit(main())
