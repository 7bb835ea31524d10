"""What happened in each phase (issue 11 point 3): what a run that failed in staging left behind (the
record's `staging_restore`), a production rollback that failed and stopped the line (`line_stopped`), in
the same words in Slack, the run note and the run's final state. And the staging gate's scope (point 2):
only the service's own workloads are judged."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.checks.staging import judge_staging, own_workloads
from airlock.kube.plan import DeploymentState, RollbackPlan
from airlock.notify import rollback_message, stopped_message
from airlock.record import build_record, describe_staging_restore, staging_restore, summarise
from airlock.run_outcome import decide_run_outcome

RUN = {
    "service": "checkout",
    "version": "v1.4.0",
    "strategy": "rolling",
    "risk": "planned",
    "dry_run": False,
    "run_id": "manual__1",
    "dag_id": "deploy_checkout",
    "container": "app",
}
STAGING_PLAN = {
    "environment": "staging",
    "namespace": "staging",
    "strategy": "rolling",
    "stable": {"name": "checkout", "exists": True, "images": {"app": "registry.local/checkout:v1.3.2"}},
}
SMOKE_FAILED = {
    "validate": "success",
    "acquire_lock": "success",
    "preflight.checks": "success",
    "preflight.window": "success",
    "staging.record_rollback_plan": "success",
    "staging.deploy": "success",
    "staging.health": "success",
    "staging.smoke": "failed",
    "staging.soak": "upstream_failed",
    "staging.restore": "success",
    "production.record_rollback_plan": "upstream_failed",
    "production.rolling.update": "upstream_failed",
    "rollback": "success",
}
REASON = "task staging.smoke failed: smoke tests failed at staging"


def _result(**changes: Any) -> dict[str, Any]:
    base = {
        "strategy": "rolling",
        "reason": REASON,
        "dry_run": False,
        "restored": {"images": {"app": "registry.local/checkout:v1.3.2"}},
        "evidence": {},
        "actions": ['undo deployment "checkout" to recorded revision 3'],
        "noop": False,
        "healthy": True,
        "verification": None,
    }
    return {**base, **changes}


def _record(staging_rollback: Any, states: dict[str, str] = SMOKE_FAILED) -> dict[str, Any]:
    # the production rollback runs (one_failed) and finds no plan: production was never changed
    production = {"strategy": None, "reason": REASON, "dry_run": False, "noop": True}
    values = {"rollback": production, "staging_plan": STAGING_PLAN, "staging_rollback": staging_rollback}
    return build_record(run=RUN, values=values, task_states=states, ignore_tasks=["record"])


def test_a_version_undone_in_staging_is_recorded_and_said_everywhere_in_the_same_words() -> None:
    record = _record(_result())
    assert record["staging_restore"] == {
        "state": "restored",
        "restored": True,
        "version": "v1.3.2",
        "why": None,
    }
    assert record["staging_rollback_plan"] == STAGING_PLAN and record["staging_rollback"]["healthy"] is True
    assert "staging_plan" not in record["extra"] and "staging_rollback" not in record["extra"]

    note = summarise(record)
    assert "Stopped in staging before production: staging restored to v1.3.2; production untouched." in note
    assert "Rollback to" not in note, note

    slack = stopped_message(record)
    assert slack["text"] == (
        f"✋ checkout v1.4.0 stopped in staging before production: {REASON} "
        "(staging restored to v1.3.2; production untouched)"
    )
    fields = [f["text"] for b in slack["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert "*Staging*\nrestored to v1.3.2" in fields and "*Production*\nuntouched" in fields, fields

    outcome = decide_run_outcome(record, any_task_failed=True)
    assert (outcome.state, outcome.outcome) == ("failed", "failed")
    assert outcome.message == (
        "deployment of checkout v1.4.0 failed in staging before production "
        f"(staging restored to v1.3.2; production untouched): {REASON}"
    )


def test_a_staging_restore_that_failed_says_staging_was_not_restored() -> None:
    unhealthy = _result(healthy=False, verification="rollout of deployment checkout did not complete")
    record = _record(unhealthy, {**SMOKE_FAILED, "staging.restore": "failed"})
    assert record["staging_restore"] == {
        "state": "not_restored",
        "restored": False,
        "version": "v1.3.2",
        "why": "rollout of deployment checkout did not complete",
    }
    slack = stopped_message(record)
    assert slack["text"].startswith("🔥 checkout v1.4.0 stopped in staging before production: "), slack[
        "text"
    ]
    assert slack["text"].endswith(
        "(staging NOT restored: rollout of deployment checkout did not complete; production untouched)"
    )
    assert "staging NOT restored: rollout of deployment checkout did not complete" in summarise(record)

    # the restore task died without a result (e.g. the API refused the undo)
    crashed = _record(None, {**SMOKE_FAILED, "staging.restore": "failed"})
    assert crashed["staging_restore"]["state"] == "not_restored"
    assert describe_staging_restore(crashed["staging_restore"]) == (
        "staging NOT restored: no result from the staging restore (see task staging.restore)"
    )
    assert "staging NOT restored" in decide_run_outcome(crashed, any_task_failed=True).message


def test_a_run_that_failed_before_changing_staging_says_staging_unchanged() -> None:
    # e.g. the staging rollout was refused before its first write: the restore finds nothing to undo
    record = _record(_result(noop=True, actions=[]), {**SMOKE_FAILED, "staging.smoke": "upstream_failed"})
    assert record["staging_restore"]["state"] == "unchanged" and record["staging_restore"]["restored"]
    assert stopped_message(record)["text"].endswith("(staging unchanged; production untouched)")


@pytest.mark.parametrize(
    "stopped, expected",
    [
        ("preflight", None),  # staging never reached
        ("production", None),  # staging passed: it keeps the version that passed there
        (None, None),  # the run succeeded
    ],
)
def test_staging_restore_only_applies_to_a_run_stopped_in_staging(stopped: Any, expected: Any) -> None:
    assert staging_restore(_result(), STAGING_PLAN, stopped) is expected


def test_a_run_stopped_in_preflight_says_nothing_about_staging() -> None:
    states = {"validate": "success", "acquire_lock": "success", "preflight.checks": "failed"}
    record = _record(None, states)
    assert record["stopped_in"] == "preflight" and record["staging_restore"] is None
    assert stopped_message(record)["text"].endswith(" (production untouched)")
    note = summarise(record)
    assert "Stopped in pre-flight before production: production untouched." in note, note
    assert "staging restored" not in note and "staging NOT" not in note and "staging unchanged" not in note


def test_a_staging_plan_is_a_plain_rollback_plan_that_knows_its_environment() -> None:
    stable = DeploymentState("checkout", True, {"app": "registry.local/checkout:v1.3.2"}, 3, "abc", 2)
    plan = RollbackPlan(
        run_id="r1",
        service="checkout",
        namespace="staging",
        strategy="rolling",
        version="v1.4.0",
        new_image="registry.local/checkout:v1.4.0",
        recorded_at="2026-01-01T00:00:00+00:00",
        stable=stable,
        service_name="checkout",
        service_selector={"app": "checkout"},
        canary=DeploymentState("checkout-canary", False),
        environment="staging",
    )
    assert RollbackPlan.from_dict(plan.to_dict()) == plan
    older = plan.to_dict()
    del older["environment"]  # a plan stored before plans knew their environment was production's
    assert RollbackPlan.from_dict(older).environment == "production"


# -- the staging gate's scope ---------------------------------------------------------------------------


def _deployment(name: str, app: str, available: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 2},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": app, "team": "x"}}}},
        "status": {
            "observedGeneration": 2,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": available,
        },
    }


def _pod(name: str, app: str, ready: bool) -> dict[str, Any]:
    waiting = {} if ready else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "metadata": {"name": name, "labels": {"app": app}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(ready)}],
            "containerStatuses": [{"name": "app", "state": waiting or {"running": {}}}],
        },
    }


NAMESPACE = (
    [_deployment("checkout", "checkout", 2), _deployment("worker", "worker", 0)],
    [
        _pod("checkout-1", "checkout", True),
        _pod("checkout-2", "checkout", True),
        _pod("worker-1", "worker", False),
    ],
)


def test_the_staging_gate_judges_only_the_services_own_workloads() -> None:
    deployments, pods = NAMESPACE
    mine = judge_staging(deployments, pods, "staging", {"app": "checkout"})
    assert mine.status == "pass", mine.reason
    assert mine.reason == (
        "staging (staging) for app=checkout: 1 Deployment(s) rolled out, 2 pod(s) Running/Ready; "
        "1 Deployment(s) of other services not judged (worker)"
    )
    assert mine.evidence["other_deployments_not_judged"] == ["worker"]
    # the broken neighbour is still seen by its own gate, and by a namespace-wide judgement
    assert judge_staging(deployments, pods, "staging", {"app": "worker"}).status == "fail"
    assert judge_staging(deployments, pods, "staging").status == "fail"
    # a Deployment is the service's when its pod template carries every app label
    own, own_pods = own_workloads(deployments, pods, {"app": "checkout", "team": "x"})
    assert [d["metadata"]["name"] for d in own] == ["checkout"] and own_pods == []
    absent = judge_staging(deployments, pods, "staging", {"app": "billing"})
    assert absent.status == "fail" and absent.reason.startswith(
        "no Deployment of this service in staging (staging) for app=billing: staging is not deployed"
    ), absent.reason


# -- a production rollback that failed and stopped the line ---------------------------------------------

MARK = {
    "service": "checkout",
    "namespace": "prod",
    "run_id": "manual__1",
    "reason": "AirflowFailException: REFUSING TO ROLL BACK checkout",
    "stopped_at": "2026-03-10T01:20:00+00:00",
}
CLEAR = "kubectl -n prod delete configmap airlock-stop-checkout"


def test_a_rollback_that_stopped_the_line_is_never_called_rolled_back() -> None:
    states = {
        "validate": "success",
        "production.record_rollback_plan": "success",
        "production.rolling.update": "success",
        "validation.smoke": "failed",
        "rollback": "failed",
    }
    values = {
        "plan": {"stable": {"images": {"app": "registry.local/checkout:v1.3.2"}}},
        "failure": {"validation.smoke": "smoke tests failed at production"},
        "line_stopped": MARK,
    }
    record = build_record(run=RUN, values=values, task_states=states, ignore_tasks=["record"])
    assert record["line_stopped"] == MARK and "line_stopped" not in record["extra"]
    assert (record["outcome"], record["stopped_in"], record["production_changed"]) == (
        "failed",
        "validation",
        True,
    )

    slack = rollback_message(record)
    assert slack["text"].startswith(
        "🛑 checkout v1.4.0: rollback in production FAILED, line stopped: new runs are refused until a "
        f"human checks production and runs `{CLEAR}`: "
    ), slack["text"]
    assert "rolled back to" not in slack["text"], slack["text"]
    fields = [f["text"] for b in slack["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert "*Production*\nNOT restored - line stopped" in fields, fields

    note = summarise(record)
    assert "Rollback in production FAILED, line stopped: new runs are refused until a human checks " in note
    assert f"`{CLEAR}`." in note, note
    message = decide_run_outcome(record, any_task_failed=True).message
    assert message.startswith(
        "deployment of checkout v1.4.0 failed; its rollback in production FAILED, line stopped: "
    ), message
    assert message.endswith(f"delete configmap airlock-stop-checkout`: {record['reason']}"), message
    assert record["reason"] == "validation.smoke: smoke tests failed at production", record["reason"]

    # without a mark the same record reads as before
    plain = build_record(
        run=RUN, values={**values, "line_stopped": None}, task_states=states, ignore_tasks=["record"]
    )
    assert plain["line_stopped"] is None and "line stopped" not in summarise(plain)
    assert not rollback_message(plain)["text"].startswith("🛑")
