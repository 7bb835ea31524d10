"""The fault matrix: what strikes, when, and what Airlock must end with.

Versions: v2 healthy, v3 ~30 % errors (the canary judge fails it, so a rollback runs), v4 healthy
but 32 s to start (a rollout wait outlasts the 20 s in-worker watch and defers to the triggerer).
Every scenario ends with the invariant of matrix.check_invariant; `expect` adds the outcome.

Faults are scoped to the scenario: kubesim faults by the scenario's namespace in the path, outages by
the scenario's own connection, SIGKILL by its task instance's process. Restarting the triggerer or the
scheduler hits every scenario running at that moment - they must all still end consistent.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from typing import Any

import requests

from tests.faults import hotfix_during_wait
from tests.faults.matrix import RUN_TIMEOUT_S, Driver, Result, Scenario
from tests.faults.processes import kill_task
from tests.faults.world import BAD, NEW, NEXT, SLOW

STEP = "production.canary.step_1"
ANALYSIS = "production.canary.analysis_1"
PROMOTE = "production.canary.promote"
PLAN = "production.record_rollback_plan"
ROLLBACK = "rollback"
PREFLIGHT = "preflight.checks"
DEPLOYED = ("deployed",)
ROLLED_BACK = ("rolled back",)

# -- strikes -----------------------------------------------------------------------------------


def kubesim_fault(task_id: str, states: tuple[str, ...], resource: str, **fault: Any) -> Any:
    """Once `task_id` is in `states`, the next matching requests in this namespace fail as `fault` says."""

    def strike(d: Driver) -> str:
        d.wait_task(task_id, states)
        path = d.ns_path(resource)
        d.inject(path=path, **fault)
        return f"{task_id} {d.tis()[task_id]['state']}: {fault} on {path}"

    return strike


def on_step_writes(**fault: Any) -> Any:
    """The canary step's create of the canary Deployment, armed from the run's start on this namespace's
    POSTs to `deployments*` only. The rollback plan is stored on the stable Deployment (a PATCH of the
    annotation airlock.io/rollback-plan, airlock.kube.plan) before the step runs, so "the first write to a
    Deployment" is the plan's, not the step's: until CI of 9b23d57 these faults struck
    production.record_rollback_plan. Nothing before the step POSTs a Deployment here (the lean spec has no
    staging), and a retried create is a POST again, so `count` consecutive faults meet the step's create.
    (Arming once the step was queued missed it in CI: with the DAG library preloaded the step can be
    scheduled, run and deferred between two polls of the REST API.)"""

    def strike(d: Driver) -> str:
        path = d.ns_path("deployments*")
        d.inject(path=path, method="POST", **fault)
        return f"{fault} on POST {path}: the canary step's create of the canary"

    return strike


def after_canary_created(resource: str, settle_s: float = 4.0, **fault: Any) -> Any:
    """During the step's rollout wait: once the canary Deployment was created (kubesim's audit log)
    and the in-worker watch is open, so the fault meets the next watch - the deferred one."""

    def strike(d: Driver) -> str:
        d.wait_task(STEP, ("running", "deferred"))
        deadline = time.monotonic() + 120
        while not any(
            e["method"] == "POST" and e["path"].endswith("/deployments") and e.get("status") == 201
            for e in d.writes()
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the canary Deployment was never created")
            time.sleep(0.5)
        time.sleep(settle_s)
        path = d.ns_path(resource)
        d.inject(path=path, **fault)
        return f"{fault} on {path}"

    return strike


def sigkill(task_id: str, after_write: bool = False) -> Any:
    """SIGKILL the process running `task_id` (found by its title); with `after_write`, only once it has
    written to the cluster (so the kill lands in the middle of its work)."""

    def strike(d: Driver) -> str:
        # the task instance's id exists from the run's start: watch for its process from then on, so
        # the kill lands within a fraction of a second of the process starting
        ti_id = d.ti_id(task_id)
        baseline: list[int] = []

        def ready() -> bool:  # called once the task's process exists
            if not after_write:
                return True
            count = len(d.writes(workload_only=True))
            if not baseline:  # the writes before this task started (the plan's, an earlier step's)
                baseline.append(count)
            return count > baseline[0]

        done = kill_task(ti_id, timeout=RUN_TIMEOUT_S, ready=ready)
        # A sensor hands its wait to the triggerer within a second of starting: a kill that lands just
        # after the hand-off misses (the wait goes on in the triggerer). Then kill the task's process
        # when it resumes from the wait - still the same task, still in the middle of its work.
        for _ in range(3):
            ti = d.wait_task(task_id, ("deferred", "success", "failed", "up_for_retry", "upstream_failed"))
            if ti.get("state") != "deferred":
                break
            done += "; it had handed its wait to the triggerer first, so on resuming: "
            done += kill_task(ti_id, timeout=RUN_TIMEOUT_S)
        return done

    return strike


def sigkill_during_write(task_id: str, held_s: float = 10.0) -> Any:
    """SIGKILL the canary step's process while the answer to its first Deployment write is held back
    (kubesim applies the write, then holds the answer `held_s`): the kill lands in the middle of its work.
    The step hands its rollout wait to the triggerer right after that write, so its process lives only a
    fraction of a second after writing: a plain kill after the write would race that hand-over.

    The kill fires once the process exists *and* kubesim has taken the held fault off its pending list
    (the write arrived, its answer is being held). Counting audited writes against a baseline taken when
    the process was first seen missed in CI: under load the process was first seen after its write, so
    the baseline already held it and the kill waited for a second write that never came."""

    def strike(d: Driver) -> str:
        held = on_step_writes(delay=held_s, after=True, count=1)(d)
        ti_id = d.ti_id(task_id)

        def answer_held() -> bool:
            pending = requests.get(f"{d.kubesim}/_sim/faults", timeout=10).json()["pending"]
            return not any(f"/namespaces/{d.scenario.namespace}/" in f["path"] for f in pending)

        return (
            f"{held}; {kill_task(ti_id, timeout=RUN_TIMEOUT_S, ready=answer_held)} (its write's answer held)"
        )

    return strike


def restart(component: str, task_id: str, states: tuple[str, ...], sig: int) -> Any:
    def strike(d: Driver) -> str:
        d.wait_task(task_id, states)
        time.sleep(2)  # the trigger is picked up by the triggerer
        return d.stack.restart_component(component, sig)

    return strike


def prometheus_down(from_task: str, states: tuple[str, ...], seconds: float | None, until: str = "") -> Any:
    """Take this scenario's Prometheus down once `from_task` is in `states`, for `seconds` or until
    `until` has finished."""

    def strike(d: Driver) -> str:
        outage = d.env["prometheus"][d.scenario.key]
        d.wait_task(from_task, states)
        outage.down.set()
        began = time.monotonic()
        try:
            if seconds is not None:
                time.sleep(seconds)
                # one interval down means one poll refused: a deferred gate first waits out the
                # stale-event guard (AIRLOCK_TRIGGER_MIN_DEFERRAL_SECONDS, 12 s) before its first poll,
                # so stay down until a query met the outage, then come back at once
                while not outage.requests_while_down and time.monotonic() - began < 60:
                    time.sleep(0.1)
            else:
                d.wait_task(until, ("success", "failed", "upstream_failed", "skipped"))
        finally:
            outage.down.clear()
        return f"Prometheus answered 503 for {time.monotonic() - began:.0f}s ({outage.requests_while_down} queries)"

    return strike


def expire_lease(task_id: str, states: tuple[str, ...]) -> Any:
    """Make the run's deploy lock expire under it and another installation take it meanwhile: what a run
    that could not renew for that long finds when it comes back. (A lease of ours that expired while
    nobody took it is simply taken again - no one else can have written - so the fence only bites once
    someone else holds it.)"""

    def strike(d: Driver) -> str:
        d.wait_task(task_id, states)
        path = f"/apis/coordination.k8s.io/v1/namespaces/{d.scenario.namespace}/leases/airlock-{d.scenario.service}"
        lease = d.get(path)
        if not lease:
            raise RuntimeError("no deploy lock Lease to expire")
        ttl = int(lease["spec"].get("leaseDurationSeconds") or 300)
        previous = lease["spec"].get("holderIdentity")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        taker = "other-installation/manual__took-the-expired-lock"
        lease["spec"].update(
            holderIdentity=taker,
            acquireTime=now,
            renewTime=now,
            leaseDurationSeconds=max(ttl, 3600),
            leaseTransitions=int(lease["spec"].get("leaseTransitions") or 0) + 1,
        )
        requests.put(f"{d.kubesim}{path}", json=lease, timeout=10).raise_for_status()
        d.env.setdefault("expired_at", {})[d.scenario.key] = len(d.audit())
        return f"lease of {previous} expired ({ttl} s without renewal) and {taker} took it"

    return strike


def before_switch(**fault: Any) -> Any:
    """Blue-green: armed once green is deployed (its task waits or is done) and before the switch runs,
    on the live Service's PATCH only - deploy_green's pin of the Service to blue is an earlier PATCH, so
    the next one is the switch. (Polling for the switch itself missed it: it can run between polls.)"""

    def strike(d: Driver) -> str:
        green, switch = "production.blue_green.deploy_green", "production.blue_green.switch"
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            tis = d.tis()
            if (tis.get(green) or {}).get("state") in ("deferred", "success") or (tis.get(switch) or {}).get(
                "state"
            ) in ARMED:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError("green was never deployed")
        path = f"/api/v1/namespaces/{d.scenario.namespace}/services/{d.scenario.service}"
        d.inject(path=path, method="PATCH", **fault)
        return f"{fault} on PATCH {path} (switch {(d.tis().get(switch) or {}).get('state') or 'not yet'})"

    return strike


# -- extra checks --------------------------------------------------------------------------------


def fault_consumed(d: Driver, r: Result) -> list[str]:
    """Every fault injected for this scenario struck (none left pending)."""
    pending = requests.get(f"{d.kubesim}/_sim/faults", timeout=10).json()["pending"]
    mine = [f for f in pending if f"/namespaces/{d.scenario.namespace}/" in f["path"]]
    return [f"fault never struck: {mine}"] if mine else []


def struck_and(*checks: Any) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        out = fault_consumed(d, r)
        for c in checks:
            out += c(d, r)
        return out

    return check


def not_a_regression(d: Driver, r: Result) -> list[str]:
    """A Prometheus outage is no evidence against the release: the gate concluded inconclusive
    (on_inconclusive applied), and no metric was judged failing."""
    reason = str((r.record or {}).get("reason") or "")
    problems = []
    if "inconclusive" not in reason.lower():
        problems.append(f"the outage was not treated as inconclusive: {reason[:300]!r}")
    verdict = d.xcom(ANALYSIS)
    failing = [
        m for m in (verdict or {}).get("metrics", []) if isinstance(m, dict) and m.get("status") == "fail"
    ]
    if failing:
        problems.append(f"metrics judged failing during the outage: {failing}")
    outage = d.env["prometheus"][d.scenario.key]
    if not outage.requests_while_down:
        problems.append("no query reached the outage")
    return problems


def outage_seen(d: Driver, r: Result) -> list[str]:
    outage = d.env["prometheus"][d.scenario.key]
    return [] if outage.requests_while_down else ["no query reached the outage"]


def zero_writes(d: Driver, r: Result) -> list[str]:
    """Failed closed: nothing but the deploy lock's Lease was written in the namespace."""
    writes = [e for e in d.writes() if "/leases/" not in e["path"] and not e["path"].endswith("/leases")]
    return (
        [f"writes before the pre-flight verdict: {[(e['method'], e['path']) for e in writes]}"]
        if writes
        else []
    )


def promote_fenced(d: Driver, r: Result) -> list[str]:
    """After its lease expired, the run wrote nothing that moves production forward: the stable
    Deployment never got the new image."""
    since = d.env.get("expired_at", {}).get(d.scenario.key)
    if since is None:
        return ["the lease was never expired"]
    new_image = f"{d.scenario.service}:{d.scenario.version}"
    marker = f"/namespaces/{d.scenario.namespace}/deployments/{d.scenario.service}"
    promoted = [
        (e["method"], e["path"], e.get("status"))
        for e in d.audit()[since:]
        if e["path"].startswith("/apis/apps/v1")
        and marker in e["path"]
        and new_image in json.dumps(e.get("body"))
    ]
    return [f"written after the lease expired: {promoted}"] if promoted else []


def task_failed(task_id: str) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        state = (d.tis().get(task_id) or {}).get("state")
        return [] if state == "failed" else [f"{task_id} ended {state}, expected failed (killed)"]

    return check


# -- the matrix ----------------------------------------------------------------------------------

# a kubesim fault is armed as soon as its task is queued: with the DAG library preloaded a task can start
# and finish between two polls of the REST API (f22's switch did), and the fault then never met it
ARMED = ("scheduled", "queued", "running")
DEFERRED = ("deferred",)
STEP_STARTED = (*ARMED, "deferred", "success")

SCENARIOS: list[Scenario] = [
    Scenario("f01-control-good", "none (control)", "whole run", NEW, DEPLOYED),
    Scenario("f02-control-bad", "none (control, v3 ~30 % errors)", "canary analysis", BAD, ROLLED_BACK),
    Scenario(
        "f03-kill-step",
        "worker SIGKILL",
        "canary step",
        NEW,
        ROLLED_BACK,
        strike=sigkill_during_write(STEP),
        check=task_failed(STEP),
    ),
    Scenario(
        "f04-kill-analysis",
        "worker SIGKILL",
        "canary analysis",
        NEW,
        ROLLED_BACK,
        strike=sigkill(ANALYSIS),
        check=task_failed(ANALYSIS),
    ),
    Scenario(
        "f05-kill-rollback",
        "worker SIGKILL",
        "rollback",
        BAD,
        # a rollback killed mid-way may have left production half-restored: the line is stopped (by the
        # record task - a killed task's on_failure_callback never runs) and a human checks
        ("line stopped",),
        strike=sigkill(ROLLBACK, after_write=True),
    ),
    Scenario(
        "f06-triggerer-analysis",
        "triggerer SIGKILL + restart",
        "deferred analysis",
        NEW,
        DEPLOYED,
        strike=restart("triggerer", ANALYSIS, DEFERRED, signal.SIGKILL),
    ),
    Scenario(
        "f07-triggerer-rollout",
        "triggerer SIGKILL + restart",
        "deferred rollout wait",
        SLOW,
        DEPLOYED,
        strike=restart("triggerer", STEP, DEFERRED, signal.SIGKILL),
    ),
    Scenario(
        "f08-scheduler-restart",
        "scheduler SIGTERM + restart",
        "deferred analysis",
        NEW,
        DEPLOYED,
        strike=restart("scheduler", ANALYSIS, DEFERRED, signal.SIGTERM),
    ),
    Scenario(
        "f09-429-step",
        "429 x3 (Retry-After 1)",
        "canary step",
        NEW,
        DEPLOYED,
        strike=on_step_writes(status=429, retry_after="1", count=3),
        check=fault_consumed,
    ),
    Scenario(
        "f10-503-step",
        "503 x3",
        "canary step",
        NEW,
        DEPLOYED,
        strike=on_step_writes(status=503, count=3),
        check=fault_consumed,
    ),
    Scenario(
        "f11-429-rollback",
        "429 x3 (Retry-After 1)",
        "rollback",
        BAD,
        ROLLED_BACK,
        strike=kubesim_fault(ROLLBACK, ARMED, "*", status=429, retry_after="1", count=3),
        check=fault_consumed,
    ),
    Scenario(
        "f12-503-rollback",
        "503 x3",
        "rollback",
        BAD,
        ROLLED_BACK,
        strike=kubesim_fault(ROLLBACK, ARMED, "*", status=503, count=3),
        check=fault_consumed,
    ),
    Scenario(
        "f13-hung-call-step",
        "API call hangs 70 s (read timeout 60 s)",
        "canary step",
        NEW,
        DEPLOYED,
        strike=on_step_writes(delay=70.0, count=1),
        check=fault_consumed,
    ),
    Scenario(
        "f14-watch-dropped",
        "watch dropped x2",
        "deferred rollout wait",
        SLOW,
        DEPLOYED,
        strike=after_canary_created("deployments", drop_watch=True, count=2),
        check=fault_consumed,
    ),
    Scenario(
        "f15-watch-410",
        "watch 410 Gone",
        "deferred rollout wait",
        SLOW,
        DEPLOYED,
        strike=after_canary_created("deployments", status=410, watch_only=True, count=1),
        check=fault_consumed,
    ),
    Scenario(
        "f16-prom-down-interval",
        "Prometheus down 5 s (one interval)",
        "canary analysis",
        NEW,
        DEPLOYED,
        strike=prometheus_down(ANALYSIS, DEFERRED, seconds=5.0),
        check=outage_seen,
    ),
    Scenario(
        "f17-prom-down-step",
        "Prometheus down the whole step",
        "canary analysis",
        NEW,
        ROLLED_BACK,
        # from the step's scheduling on (nothing between it and its analysis asks Prometheus): since the
        # step hands its rollout wait to the triggerer within a second, "running" alone was missed in CI
        # and the run deployed before the outage began
        strike=prometheus_down(STEP, STEP_STARTED, seconds=None, until=ANALYSIS),
        check=not_a_regression,
    ),
    Scenario(
        "f18-alertmanager-down",
        "Alertmanager unreachable",
        "pre-flight",
        NEW,
        ("stopped before production",),
        check=zero_writes,
    ),
    Scenario("f19-slack-down", "Slack webhook 500 (whole run)", "whole run", NEW, DEPLOYED),
    Scenario(
        "f20-reset-step",
        "connection reset x2",
        "canary step",
        NEW,
        DEPLOYED,
        strike=on_step_writes(reset=True, count=2),
        check=fault_consumed,
    ),
    Scenario(
        "f21-lost-create",
        "canary create applied, answer lost (reset)",
        "canary step",
        NEW,
        DEPLOYED,
        # armed once the rollback plan is being recorded (it only reads): the next POST to deployments
        # in this namespace is the step's canary create; armed at the step's start it could come too late
        strike=kubesim_fault(
            PLAN, ("running", "success"), "deployments", method="POST", after=True, reset=True, count=1
        ),
        check=fault_consumed,
    ),
    Scenario(
        "f22-503-bluegreen-switch",
        "503 x3 on the Service",
        "blue-green switch",
        NEW,
        DEPLOYED,
        strategy="blue_green",
        spec={"strategy": {"allowed": ["canary", "blue_green"]}},
        strike=before_switch(status=503, count=3),
        check=fault_consumed,
    ),
    Scenario(
        "f24-lease-expired",
        "deploy lock lease expires",
        "deferred analysis",
        NEW,
        ("rolled back", "line stopped"),
        strike=expire_lease(ANALYSIS, DEFERRED),
        check=promote_fenced,
        fenced_out=True,
    ),
    # no fault: a planned run waits for its window while a hotfix of the same service deploys (issue 13
    # point 2; the choreography and its checks are in hotfix_during_wait.py)
    hotfix_during_wait.scenario("f25-hotfix-during-wait", NEXT),
    Scenario(
        "f23-two-installations",
        "two Airflow installations, same service",
        "lock",
        NEW,
        ("one deployed",),
        peer_version=SLOW,
    ),
]
