"""The Kubernetes write log never shows a pod env value, over real HTTP against kubesim: the canary's
create (a copy of the stable's template), the rollback's `rollout undo` JSON Patch (the recorded
revision's template) and a dry run. The API server still gets the real values."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from airlock.kube import api, canary, rolling, undo
from airlock.kube.api import Kube
from airlock.kube.wait import wait_for_rollout
from airlock.redact import REDACTED
from tests.fixtures.notes import Notes
from tests.integration.kube.conftest import IMG, NS, SCENARIO, Sim

pytestmark = pytest.mark.integration

SECRET = "kube-s3ntinel-7f3a9c"
ENV = [
    {"name": "DB_PASSWORD", "value": SECRET},
    {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "web", "key": "api-key"}}},
]


def _scenario() -> dict[str, Any]:
    scenario = copy.deepcopy(SCENARIO)
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
