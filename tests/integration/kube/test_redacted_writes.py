"""Pod env values stay out of what Airlock shows, over real HTTP against kubesim.

The Kubernetes write log: the canary's create (a copy of the stable's template), the rollback's
`rollout undo` JSON Patch (the recorded revision's template) and a dry run - while the API server still
gets the real values. App log lines Airlock quotes: a crash-looping pod that prints its password, in the
stuck rollout's reason, the rollback's evidence and the log scan's examples, and a migration Job's
output."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from airlock.checks.log_scan import scan_pods
from airlock.kube import api, canary, migration, rolling, undo
from airlock.kube.api import Kube
from airlock.kube.diagnose import collect_evidence, find_stuck_reason
from airlock.kube.wait import wait_for_rollout
from airlock.redact import REDACTED
from airlock.spec import parse_spec
from tests.fixtures.notes import Notes
from tests.integration.kube.conftest import IMG, NS, SCENARIO, SPEC, Sim

pytestmark = pytest.mark.integration

SECRET = "kube-s3ntinel-7f3a9c"
ENV = [
    {"name": "DB_PASSWORD", "value": SECRET},
    {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "web", "key": "api-key"}}},
]


LEAKY = f"{IMG}:leaky"  # crash-loops after printing its password


def _scenario() -> dict[str, Any]:
    scenario = copy.deepcopy(SCENARIO)
    scenario["images"] = {
        LEAKY: {
            "fail": "CrashLoopBackOff",
            "crash_after_seconds": 0.8,
            "log_interval_seconds": 0.1,
            "log_lines": ["starting web", f"FATAL: login with password {SECRET} refused"],
        },
        f"{IMG}:migrate-leaky": {
            "exit_code": 3,
            "complete_after_seconds": 1.0,
            "log_interval_seconds": 0.1,
            "log_lines": ["migrating", f"ERROR: password {SECRET} refused"],
        },
        **scenario["images"],
    }
    web = scenario["objects"][0]
    pod = web["spec"]["template"]["spec"]
    pod["containers"][0]["env"] = copy.deepcopy(ENV)
    pod["initContainers"] = [
        {"name": "init", "image": "busybox:1", "env": [{"name": "SEED", "value": SECRET}]}
    ]
    return scenario


def _logged(notes: Notes) -> str:
    return "\n".join(text for _, text in notes.lines)


def _kube(sim: Sim, notes: Notes, dry_run: bool = False) -> Kube:
    return Kube(sim.api_client(), dry_run=dry_run, log=notes)


def test_canary_create_and_rollout_undo_log_no_env_value(make_sim: Any, spec: Any) -> None:
    sim = make_sim(_scenario())
    notes = Notes()
    kube = _kube(sim, notes)
    assert wait_for_rollout(kube, NS, "web", 30).done

    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")  # POST: the stable's template, copied
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "c")  # a strategic patch: no env in it
    assert wait_for_rollout(kube, NS, "web", 30).done
    undone = undo.undo(kube, NS, "web", 1)  # JSON Patch: revision 1's template, env included
    assert undone["changed"], undone

    logged = _logged(notes)
    assert "POST /apis/apps/v1/namespaces/production/deployments" in logged
    assert '"op": "replace", "path": "/spec/template"' in logged
    assert SECRET not in logged, logged
    assert f'"name": "DB_PASSWORD", "value": "{REDACTED}"' in logged and "secretKeyRef" in logged
    # what the API server received, and keeps, is the real value
    sent = json.dumps([w["body"] for w in sim.writes()])
    assert sent.count(SECRET) >= 4, "canary create (2 containers) and the undo patch (2) carried it"
    stored = kube.get("deployments", NS, "web-canary")
    assert (
        stored is not None
        and stored["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == SECRET
    )


def test_dry_run_shows_the_body_redacted(make_sim: Any, spec: Any) -> None:
    sim = make_sim(_scenario())
    notes = Notes()
    before = len(sim.writes())

    canary.ensure_canary(_kube(sim, notes, dry_run=True), spec, NS, f"{IMG}:2", 25, "c")

    logged = _logged(notes)
    assert "DRY RUN - would POST" in logged and "DB_PASSWORD" in logged
    assert SECRET not in logged, logged
    assert len(sim.writes()) == before


def test_without_redaction_the_log_check_sees_the_value(
    make_sim: Any, spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same write with redaction switched off puts the value in the log, so the checks
    above would catch a body logged as it is."""
    monkeypatch.setattr(api, "redact_body", lambda body: body)
    sim = make_sim(_scenario())
    notes = Notes()

    canary.ensure_canary(_kube(sim, notes, dry_run=True), spec, NS, f"{IMG}:2", 25, "c")

    assert SECRET in _logged(notes)


def test_app_log_lines_quoted_by_airlock_carry_no_env_value(make_sim: Any, spec: Any) -> None:
    sim = make_sim(_scenario())
    kube = _kube(sim, Notes())
    assert wait_for_rollout(kube, NS, "web", 30).done
    rolling.set_image(kube, NS, "web", "app", LEAKY, "c", progress_deadline_seconds=3)
    assert wait_for_rollout(kube, NS, "web", 30).failed

    reason = find_stuck_reason(kube, NS, "web")
    evidence = collect_evidence(kube, NS, {"app": "web"}, {"web"})
    scan = scan_pods(sim.api_client(), NS, "app=web", "app", "leaky", ["FATAL"], 2.0, 0)

    assert reason is not None and reason.kind == "CrashLoop", reason
    assert f"FATAL: login with password {REDACTED} refused" in reason.message, reason.message
    assert f"FATAL: login with password {REDACTED} refused" in json.dumps(evidence["logs"]), evidence["logs"]
    examples = [row["example"] for row in scan.evidence["signatures"]]
    assert any(REDACTED in e for e in examples), scan.evidence
    for shown in (reason.message, json.dumps(evidence), json.dumps(scan.to_dict())):
        assert SECRET not in shown
    raw = "".join(
        kube.read_log(NS, p["name"], container="app", previous=prev)
        for p in evidence["pods"]
        for prev in (True, False)
        if any(c["name"] == "app" and c["restarts"] for c in p["containers"]) or not prev
    )
    assert SECRET in raw, "the pods did print it: Airlock took it out"


def test_a_migration_jobs_output_carries_no_env_value(make_sim: Any) -> None:
    sim = make_sim(_scenario())
    spec = parse_spec(
        {
            **SPEC,
            "migration": {
                **SPEC["migration"],
                "image": f"{IMG}:migrate-leaky",
                "env": {"DB_PASSWORD": SECRET},
            },
        }
    )
    kube = _kube(sim, Notes())
    job = migration.ensure_job(kube, spec, NS, "2")["job"]
    deadline = time.monotonic() + 20
    logs = migration.job_logs(kube, NS, job)
    while not any("refused" in line for lines in logs.values() for line in lines):
        assert time.monotonic() < deadline, f"the migration printed nothing: {logs}"
        time.sleep(0.2)
        logs = migration.job_logs(kube, NS, job)
    shown = json.dumps(logs)
    assert f"ERROR: password {REDACTED} refused" in shown, shown
    assert SECRET not in shown
