"""Helper pods Airlock creates (the migration Job's) never become endpoints of the live Service.

Issue 11, point 1: the Job's pods carried the app labels, so the Service selected them and one migration
pod answered production requests while it migrated. Checked against kubesim over HTTP: its endpoints
controller and its traffic model decide who is an endpoint and who gets requests, exactly as a cluster
would from the labels.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from kubernetes import client as k8s_client

from airlock.kube import migration
from tests.integration.kube.conftest import IMG, NS, SCENARIO

pytestmark = pytest.mark.integration

MIGRATE_IMAGE = f"{IMG}:migrate-slow"


def _scenario() -> dict[str, Any]:
    scenario = copy.deepcopy(SCENARIO)
    # a migration pod that is Ready (a running container without a probe is) for ~2.5 s: long enough
    # for several endpoint samples and for the traffic model to hand it requests if it is selected
    scenario["images"] = {
        MIGRATE_IMAGE: {"ready_after_seconds": 0.05, "complete_after_seconds": 2.5},
        **scenario["images"],
    }
    scenario["services"] = {f"{NS}/web": {"rps": 400}}
    return scenario


def _endpoint_names(core: k8s_client.CoreV1Api) -> set[str]:
    """Pods listed in the Service's Endpoints (ready or not), read over HTTP by the official client."""
    ep = core.read_namespaced_endpoints("web", NS)
    return {
        addr.target_ref.name
        for subset in ep.subsets or []
        for addr in [*(subset.addresses or []), *(subset.not_ready_addresses or [])]
        if addr.target_ref is not None
    }


def test_migration_job_pods_are_never_service_endpoints_nor_get_traffic(make_sim, spec):
    sim = make_sim(_scenario())
    kube = sim.kube()
    core = k8s_client.CoreV1Api(sim.api_client())
    deadline = time.monotonic() + 20
    while len(_endpoint_names(core)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    app_pods = _endpoint_names(core)
    assert len(app_pods) == 3, app_pods

    created = migration.ensure_job(kube, spec, NS, "2", image=MIGRATE_IMAGE)
    assert created["created"]
    job_pods: set[str] = set()
    seen_ready = False
    sampled: set[str] = set()
    samples = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state, _ = migration.job_state(kube.get("jobs", NS, created["job"]) or {})
        for pod in kube.items("pods", NS, label_selector={"job-name": created["job"]}):
            job_pods.add(pod["metadata"]["name"])
            conditions = (pod.get("status") or {}).get("conditions") or []
            seen_ready |= any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        sampled |= _endpoint_names(core)
        samples += 1
        if state != "Running":
            break
        time.sleep(0.05)
    assert state == "Complete"
    assert job_pods and seen_ready, "the migration pod must have been Ready, or this proves nothing"
    assert samples >= 10, samples
    assert not sampled & job_pods, f"migration pods were endpoints of the live Service: {sampled & job_pods}"
    assert sampled == app_pods

    # the traffic model spreads the Service's requests over its ready endpoints: none for the job's pod
    sim.world.traffic_checkpoint()
    served: dict[str, int] = {}
    for (ns, svc, pod, _version, _track, _code), count, _buckets, _total in sim.world.traffic.snapshot():
        if ns == NS and svc == "web":
            served[pod] = served.get(pod, 0) + count
    assert all(served.get(p, 0) > 0 for p in app_pods), served
    assert not {p: n for p, n in served.items() if p in job_pods}, served

    # the job's pods are still found by its own labels (logs), and they carry Airlock's labels, not the app's
    pod = kube.items("pods", NS, label_selector={"job-name": created["job"]})[0]
    labels = pod["metadata"]["labels"]
    assert labels["airlock.io/role"] == "migration" and labels["airlock.io/service"] == "web"
    assert "app" not in labels
    assert migration.job_logs(kube, NS, created["job"])
