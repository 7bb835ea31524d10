"""kubectl 1.32 as an independent oracle client against kubesim."""

import subprocess

import pytest
import yaml

from tests.fixtures.kubesim import KUBECTL, make_container, make_deployment, make_job, make_service

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed"),
    pytest.mark.kubesim_scenario(
        {
            "images": {
                "registry.example/web:bad": {"fail": "ImagePullBackOff"},
                "registry.example/web:*": {
                    "ready_after_seconds": 0.4,
                    "log_lines": ["GET /health 200", "ERROR db timeout"],
                },
                "registry.example/migrate:*": {"complete_after_seconds": 1},
            }
        }
    ),
]


@pytest.fixture
def kubectl(kubesim, tmp_path):
    def run(*args: str, check: bool = True, stdin: str | None = None, timeout: float = 60):
        cmd = [KUBECTL, "--kubeconfig", kubesim.kubeconfig, "--cache-dir", str(tmp_path / "cache"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


def _apply_web(kubectl, tmp_path, replicas=3):
    manifest = make_deployment(
        "web",
        replicas=replicas,
        containers=[
            make_container("web", "registry.example/web:1.0"),
            make_container("sidecar", "registry.example/proxy:1", port=None),
        ],
    )
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return kubectl("apply", "-f", str(path), "--validate=false")


def _jsonpath(kubectl, *args):
    return kubectl("get", *args).stdout.strip()


def test_rollout_set_image_history_undo(kubectl, tmp_path):
    assert "deployment.apps/web created" in _apply_web(kubectl, tmp_path).stdout
    status = kubectl("rollout", "status", "deployment/web", "--timeout=30s").stdout
    assert (
        'Waiting for deployment "web" rollout to finish: 0 of 3 updated replicas are available...' in status
    )
    assert 'deployment "web" successfully rolled out' in status

    kubectl("set", "image", "deployment/web", "web=registry.example/web:2.0")
    status = kubectl("rollout", "status", "deployment/web", "--timeout=30s").stdout
    assert "out of 3 new replicas have been updated..." in status
    assert status.strip().endswith('deployment "web" successfully rolled out')
    images = _jsonpath(kubectl, "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}")
    assert images == "registry.example/web:2.0 registry.example/proxy:1"  # the sidecar is kept
    assert (
        _jsonpath(
            kubectl,
            "deploy",
            "web",
            "-o",
            r"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}",
        )
        == "2"
    )

    history = kubectl("rollout", "history", "deployment/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    rs_before = set(_jsonpath(kubectl, "rs", "-o", "jsonpath={.items[*].metadata.name}").split())

    assert "rolled back" in kubectl("rollout", "undo", "deployment/web").stdout
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    rs_after = set(_jsonpath(kubectl, "rs", "-o", "jsonpath={.items[*].metadata.name}").split())
    assert rs_after == rs_before  # the old ReplicaSet is re-used, not re-created
    rs1 = yaml.safe_load(kubectl("get", "rs", "-o", "yaml").stdout)["items"]
    by_rev = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in rs1}
    assert set(by_rev) == {"2", "3"}
    assert by_rev["3"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert by_rev["3"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1.0"

    kubectl("rollout", "undo", "deployment/web", "--to-revision=2")
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert (
        _jsonpath(kubectl, "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        == "registry.example/web:2.0"
    )
    assert (
        _jsonpath(
            kubectl,
            "deploy",
            "web",
            "-o",
            r"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}",
        )
        == "4"
    )


def test_image_pull_backoff_exceeds_progress_deadline(kubesim, kubectl, tmp_path):
    _apply_web(kubectl, tmp_path)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    kubectl("set", "image", "deployment/web", "web=registry.example/web:bad")
    stalled = kubectl("rollout", "status", "deployment/web", "--timeout=2s", check=False)
    assert stalled.returncode != 0 and "1 out of 3 new replicas have been updated" in stalled.stdout
    reasons = _jsonpath(
        kubectl, "pods", "-o", "jsonpath={.items[*].status.containerStatuses[0].state.waiting.reason}"
    )
    assert "ImagePullBackOff" in reasons or "ErrImagePull" in reasons
    kubesim.advance(601)
    failed = kubectl("rollout", "status", "deployment/web", "--timeout=10s", check=False)
    assert failed.returncode != 0
    assert 'deployment "web" exceeded its progress deadline' in failed.stderr


def test_scale_get_by_label_and_logs(kubesim, kubectl, tmp_path):
    _apply_web(kubectl, tmp_path, replicas=2)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert "deployment.apps/web scaled" in kubectl("scale", "deployment/web", "--replicas=4").stdout
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    names = kubectl("get", "pods", "-l", "app=web", "-o", "name").stdout.split()
    assert len(names) == 4 and all(n.startswith("pod/web-") for n in names)
    assert kubectl("get", "po", "-l", "app!=web", "-o", "name").stdout.strip() == ""
    short = kubectl("get", "deploy,rs,po,svc,ns", "-o", "name").stdout
    assert "deployment.apps/web" in short and "namespace/default" in short
    kubesim.advance(5)
    logs = kubectl("logs", names[0], "-c", "web", "--tail=2").stdout.splitlines()
    assert len(logs) == 2 and set(logs) == {"GET /health 200", "ERROR db timeout"}
    assert "GET /health 200" in kubectl("logs", "deployment/web", "-c", "web").stdout


def test_job_wait_complete(kubectl, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(make_job("migrate", image="registry.example/migrate:1")))
    kubectl("create", "-f", str(path), "--validate=false")
    out = kubectl("wait", "--for=condition=complete", "job/migrate", "--timeout=30s").stdout
    assert "job.batch/migrate condition met" in out
    assert _jsonpath(kubectl, "job", "migrate", "-o", "jsonpath={.status.succeeded}") == "1"


def test_service_selector_patch_moves_endpoints(kubectl, tmp_path):
    stable = make_deployment("web", replicas=2, pod_labels={"track": "stable"})
    canary = make_deployment("web-canary", replicas=1, labels={"app": "web", "track": "canary"})
    svc = make_service("web", selector={"app": "web"})
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([stable, canary, svc]))
    kubectl("apply", "-f", str(path), "--validate=false")
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    kubectl("rollout", "status", "deployment/web-canary", "--timeout=30s")
    ips = _jsonpath(kubectl, "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].ip}").split()
    assert len(ips) == 3
    kubectl("patch", "service", "web", "-p", '{"spec":{"selector":{"app":"web","track":"canary"}}}')
    selector = _jsonpath(kubectl, "svc", "web", "-o", "jsonpath={.spec.selector}")
    assert yaml.safe_load(selector) == {"app": "web", "track": "canary"}
    targets = _jsonpath(
        kubectl, "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].targetRef.name}"
    )
    assert targets.split() and all(t.startswith("web-canary-") for t in targets.split())


def test_cascade_delete(kubectl, tmp_path):
    _apply_web(kubectl, tmp_path, replicas=2)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert 'deployment.apps "web" deleted' in kubectl("delete", "deployment", "web").stdout
    assert kubectl("get", "rs,pods", "-o", "name").stdout.strip() == ""
    _apply_web(kubectl, tmp_path, replicas=2)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    kubectl("delete", "deployment", "web", "--cascade=orphan")
    assert kubectl("get", "rs", "-o", "name").stdout.strip().startswith("replicaset.apps/web-")
    assert len(kubectl("get", "pods", "-o", "name").stdout.split()) == 2


def test_apply_is_idempotent_and_patches(kubectl, tmp_path):
    _apply_web(kubectl, tmp_path)
    assert "deployment.apps/web unchanged" in _apply_web(kubectl, tmp_path).stdout
    assert "configured" in _apply_web(kubectl, tmp_path, replicas=5).stdout
    assert _jsonpath(kubectl, "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "5"


def test_protobuf_generators_get_415(kubectl):
    proc = kubectl("create", "deployment", "x", "--image=nginx", check=False)
    assert proc.returncode != 0 and "unknown format" in proc.stderr


def test_top_and_events(kubesim, kubectl, tmp_path):
    _apply_web(kubectl, tmp_path, replicas=1)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    top = kubectl("top", "nodes", check=False)
    assert top.returncode == 0 and "kubesim-node-1" in top.stdout, top.stderr
    events = kubectl("get", "events", "-o", "yaml").stdout
    reasons = {e["reason"] for e in yaml.safe_load(events)["items"]}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulling", "Started"} <= reasons


def test_get_prints_server_side_columns(kubectl, tmp_path):
    _apply_web(kubectl, tmp_path, replicas=2)
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    deploy = kubectl("get", "deploy").stdout.splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1].split()[:4] == ["web", "2/2", "2", "2"]
    pods = kubectl("get", "pods", "-o", "wide").stdout.splitlines()
    assert pods[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert all(line.split()[1:3] == ["2/2", "Running"] for line in pods[1:])
