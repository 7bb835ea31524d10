"""Fault injection, the audit log of writes, admin endpoints and the `python -m kubesim` CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.kubesim import make_configmap, make_deployment

REPO = Path(__file__).resolve().parents[3]


def test_audit_records_only_writes_to_kubernetes_paths(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", make_configmap("a", {"k": "v"}))
    core.patch_namespaced_config_map(
        "a", "default", {"data": {"k": "w"}}, _content_type="application/merge-patch+json"
    )
    requests.post(f"{kubesim.url}/_sim/apps/default/web/x", timeout=5)
    requests.post(f"{kubesim.url}/_sim/clock", json={"advance_seconds": 1}, timeout=5)
    core.delete_namespaced_config_map("a", "default")
    audit = kubesim.audit()
    assert [(a["method"], a["path"]) for a in audit] == [
        ("POST", "/api/v1/namespaces/default/configmaps"),
        ("PATCH", "/api/v1/namespaces/default/configmaps/a"),
        ("DELETE", "/api/v1/namespaces/default/configmaps/a"),
    ]
    assert audit[1]["content_type"] == "application/merge-patch+json" and audit[1]["time"]
    assert audit[0]["status"] == 201 and audit[0]["body"]["metadata"]["name"] == "a"
    assert requests.get(f"{kubesim.url}/_sim/audit", timeout=5).json()[0]["method"] == "POST"
    requests.delete(f"{kubesim.url}/_sim/audit", timeout=5)
    assert kubesim.audit() == []
    kubesim.clear_audit()


def test_fault_status_then_recovers(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    kubesim.inject_fault(method="POST", path="/api/v1/namespaces/*/configmaps", status=500, count=2)
    for _ in range(2):
        with pytest.raises(ApiException) as e:
            core.create_namespaced_config_map("default", make_configmap("a", {}))
        assert e.value.status == 500
    core.create_namespaced_config_map("default", make_configmap("a", {}))
    assert [a["status"] for a in kubesim.audit()] == [500, 500, 201]
    # other methods/paths are unaffected
    kubesim.inject_fault(method="GET", path="/api/v1/namespaces/default/configmaps/a", status=429)
    core.list_namespaced_config_map("default")
    r = requests.get(f"{kubesim.url}/api/v1/namespaces/default/configmaps/a", timeout=5)
    assert (
        r.status_code == 429 and r.headers["Retry-After"] == "1" and r.json()["reason"] == "TooManyRequests"
    )
    assert requests.get(f"{kubesim.url}/api/v1/namespaces/default/configmaps/a", timeout=5).status_code == 200


def test_fault_delay_and_http_admin(kubesim):
    r = requests.post(
        f"{kubesim.url}/_sim/faults", json={"method": "GET", "path": "/version", "delay": 0.5}, timeout=5
    )
    assert r.status_code == 201
    start = time.monotonic()
    assert requests.get(f"{kubesim.url}/version", timeout=5).status_code == 200
    assert time.monotonic() - start >= 0.5
    with pytest.raises(requests.Timeout):
        kubesim.inject_fault(path="/version", delay=2)
        requests.get(f"{kubesim.url}/version", timeout=0.5)
    assert requests.post(f"{kubesim.url}/_sim/faults", json={"path": "/x"}, timeout=5).status_code == 400


def test_fault_drop_watch(kubesim):
    kubesim.inject_fault(path="/api/v1/namespaces", drop_watch=True)
    assert requests.get(f"{kubesim.url}/api/v1/namespaces", timeout=5).status_code == 200  # not a watch
    resp = requests.get(
        f"{kubesim.url}/api/v1/namespaces",
        params={"watch": "1", "timeoutSeconds": "5"},
        stream=True,
        timeout=10,
    )
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in resp.iter_lines():
            pass
    assert time.monotonic() - start < 2
    # the next watch is fine and ends normally at its timeout
    resp = requests.get(
        f"{kubesim.url}/api/v1/namespaces",
        params={"watch": "1", "timeoutSeconds": "1"},
        stream=True,
        timeout=10,
    )
    assert len([x for x in resp.iter_lines() if x]) == 4


def test_admin_scenario_and_clock(kubesim, kube_client):
    r = requests.put(
        f"{kubesim.url}/_sim/scenario",
        data=yaml.safe_dump(
            {"images": {"slow:*": {"ready_after_seconds": 100}}, "namespaces": ["production"]}
        ),
        timeout=5,
    )
    assert r.status_code == 200
    core = client.CoreV1Api(kube_client)
    assert "production" in {n.metadata.name for n in core.list_namespace().items}
    client.AppsV1Api(kube_client).create_namespaced_deployment(
        "production", make_deployment("slow", "production", image="slow:1", replicas=1)
    )
    before = requests.post(f"{kubesim.url}/_sim/clock", json={}, timeout=5).json()["now"]
    after = requests.post(f"{kubesim.url}/_sim/clock", json={"advance_seconds": 101}, timeout=5).json()["now"]
    assert after - before >= 101
    pod = core.list_namespaced_pod("production").items[0]
    assert pod.status.container_statuses[0].ready


def test_cli_starts_fast_writes_kubeconfig_and_stops_on_sigterm(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "namespaces": ["staging"],
                "objects": [make_deployment("web", image="registry.example/web:1.0", replicas=2)],
            }
        )
    )
    kubeconfig = tmp_path / "kc"
    start = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "--port",
            "0",
            "--scenario",
            str(scenario),
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("kubesim ready on http://127.0.0.1:")
        assert time.monotonic() - start < 5
        url = line.rsplit(" ", 1)[1]
        cfg = yaml.safe_load(kubeconfig.read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == url and cfg["current-context"]
        deploys = requests.get(f"{url}/apis/apps/v1/namespaces/default/deployments", timeout=5).json()
        assert [d["metadata"]["name"] for d in deploys["items"]] == ["web"]
        assert "staging" in json.dumps(requests.get(f"{url}/api/v1/namespaces", timeout=5).json())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
