"""The fake kubelet and scheduler: image pull failures, crash loops, scheduling, events, logs."""

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

SCENARIO = {
    "images": {
        "img:pullfail": {"fail": "ImagePullBackOff"},
        "img:crash": {"fail": "CrashLoopBackOff", "crash_after_seconds": 2, "log_lines": ["boot", "dying"]},
        "img:*": {"ready_after_seconds": 3},
    }
}
pytestmark = pytest.mark.kubesim_scenario(SCENARIO)


def _pod(core, name, image, **spec):
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": image}], **spec}},
    )


def test_ready_after_delay(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    _pod(core, "p", "img:1")
    p = core.read_namespaced_pod("p", "default")
    assert p.spec.node_name and p.status.phase == "Running" and p.status.pod_ip.startswith("10.244.")
    assert not p.status.container_statuses[0].ready
    ready = [c for c in p.status.conditions if c.type == "Ready"][0]
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    kubesim.advance(3.1)
    p = core.read_namespaced_pod("p", "default")
    assert p.status.container_statuses[0].ready and p.status.container_statuses[0].image_id
    events = [(e.reason, e.source.component) for e in core.list_namespaced_event("default").items]
    assert ("Scheduled", "default-scheduler") in events and ("Started", "kubelet") in events


def test_image_pull_backoff(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    _pod(core, "p", "img:pullfail")
    st = core.read_namespaced_pod("p", "default").status
    assert st.phase == "Pending" and st.container_statuses[0].state.waiting.reason == "ErrImagePull"
    kubesim.advance(60)
    st = core.read_namespaced_pod("p", "default").status
    assert st.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    assert not st.container_statuses[0].ready and st.phase == "Pending"
    reasons = {(e.reason, e.message) for e in core.list_namespaced_event("default").items}
    assert ("BackOff", 'Back-off pulling image "img:pullfail"') in reasons
    assert ("Failed", "Error: ImagePullBackOff") in reasons
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log("p", "default", _preload_content=False)
    assert e.value.status == 400 and b"waiting to start" in e.value.body.encode()


def test_crash_loop_backoff_restart_count_grows(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    _pod(core, "p", "img:crash")
    kubesim.advance(3)
    cs = core.read_namespaced_pod("p", "default").status.container_statuses[0]
    assert cs.state.waiting.reason == "CrashLoopBackOff" and cs.restart_count == 0
    assert cs.last_state.terminated.exit_code == 1 and cs.last_state.terminated.reason == "Error"
    kubesim.advance(120)
    cs = core.read_namespaced_pod("p", "default").status.container_statuses[0]
    assert cs.restart_count >= 3 and not cs.ready
    restarts = cs.restart_count
    kubesim.advance(3600)
    cs = core.read_namespaced_pod("p", "default").status.container_statuses[0]
    assert cs.restart_count >= restarts + 10  # back-off capped at 5 minutes
    prev = core.read_namespaced_pod_log("p", "default", previous=True, _preload_content=False).data.decode()
    assert "kubesim: process exited with code 1" in prev and "boot" in prev
    assert any(e.reason == "BackOff" and e.count >= 1 for e in core.list_namespaced_event("default").items)


def test_unschedulable_when_cpu_exceeds_every_node(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "big"},
            "spec": {
                "containers": [{"name": "c", "image": "img:1", "resources": {"requests": {"cpu": "64"}}}]
            },
        },
    )
    p = core.read_namespaced_pod("big", "default")
    assert p.status.phase == "Pending" and not p.spec.node_name
    cond = p.status.conditions[0]
    assert (cond.type, cond.status, cond.reason) == ("PodScheduled", "False", "Unschedulable")
    assert cond.message.startswith("0/3 nodes are available: 3 Insufficient cpu.")
    assert any(e.reason == "FailedScheduling" for e in core.list_namespaced_event("default").items)


def test_job_pod_failed_exit_code(kubesim, kube_client):
    kubesim.set_scenario({"images": {"job:*": {"complete_after_seconds": 2, "exit_code": 3}}})
    core = client.CoreV1Api(kube_client)
    _pod(core, "j", "job:1", restartPolicy="Never")
    kubesim.advance(2.5)
    p = core.read_namespaced_pod("j", "default")
    assert p.status.phase == "Failed"
    assert p.status.container_statuses[0].state.terminated.exit_code == 3


def test_300_pods_are_cheap(kubesim, kube_client):
    import time

    from tests.fixtures.kubesim import make_deployment

    apps = client.AppsV1Api(kube_client)
    start = time.monotonic()
    apps.create_namespaced_deployment("default", make_deployment("big", image="img:1", replicas=300))
    kubesim.advance(5)
    d = apps.read_namespaced_deployment("big", "default")
    assert d.status.available_replicas == 300
    assert time.monotonic() - start < 30
