"""rollout_status follows kubectl's rules and messages; stuck_reason names the cause."""

from __future__ import annotations

from airlock.kube.status import new_replicaset, rollout_status
from airlock.kube.stuck import stuck_reason


def dep(gen=2, observed=2, replicas=3, updated=3, total=3, available=3, reason=None, name="web"):
    conds = [
        {
            "type": "Progressing",
            "status": "False" if reason else "True",
            "reason": reason or "NewReplicaSetAvailable",
        }
    ]
    return {
        "metadata": {"name": name, "generation": gen},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conds,
        },
    }


def test_not_observed_yet_is_never_judged():
    s = rollout_status(dep(gen=3, observed=2, reason="ProgressDeadlineExceeded"))
    assert (s.done, s.failed) == (False, False)
    assert s.message == "Waiting for deployment spec update to be observed..."


def test_progress_deadline_is_an_error():
    s = rollout_status(dep(reason="ProgressDeadlineExceeded", updated=1))
    assert s.failed and not s.done
    assert s.message == 'deployment "web" exceeded its progress deadline'


def test_kubectl_messages_in_order():
    assert rollout_status(dep(updated=1)).message == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'
    )
    assert rollout_status(dep(total=5)).message == (
        'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...'
    )
    assert rollout_status(dep(available=2)).message == (
        'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'
    )
    done = rollout_status(dep())
    assert done.done and done.message == 'deployment "web" successfully rolled out'


def test_scaled_to_zero_is_done():
    assert rollout_status(dep(replicas=0, updated=0, total=0, available=0)).done


def _pod(name, **status):
    return {"metadata": {"name": name}, "status": status}


def test_image_pull_outranks_readiness():
    pods = [
        _pod(
            "a",
            phase="Running",
            conditions=[{"type": "Ready", "status": "False"}],
            containerStatuses=[{"name": "app", "ready": False, "restartCount": 0, "state": {"running": {}}}],
        ),
        _pod(
            "b",
            phase="Pending",
            containerStatuses=[
                {
                    "name": "app",
                    "image": "reg/x:9",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
                }
            ],
        ),
    ]
    r = stuck_reason(pods)
    assert (
        r.kind == "ImagePull" and "reg/x:9" in r.message and "ImagePullBackOff" in r.message and r.pod == "b"
    )


def test_crash_loop_has_restarts_and_logs():
    pods = [
        _pod(
            "c",
            phase="Running",
            containerStatuses=[
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1}},
                }
            ],
        )
    ]
    r = stuck_reason(pods, {"c": ["starting", "panic: db unreachable"]})
    assert r.kind == "CrashLoop"
    assert "4 restarts" in r.message and "exit code 1" in r.message and "panic: db unreachable" in r.message
    assert r.details["restart_count"] == 4


def test_unschedulable_quotes_scheduler():
    pods = [
        _pod(
            "u",
            phase="Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ],
        )
    ]
    r = stuck_reason(pods)
    assert r.kind == "Unschedulable" and "Insufficient cpu" in r.message


def test_readiness_uses_probe_event():
    pods = [
        _pod(
            "r",
            phase="Running",
            conditions=[{"type": "Ready", "status": "False"}],
            containerStatuses=[{"name": "app", "ready": False, "restartCount": 0, "state": {"running": {}}}],
        )
    ]
    events = [
        {
            "involvedObject": {"name": "r"},
            "reason": "Unhealthy",
            "message": "Readiness probe failed: HTTP 503",
        }
    ]
    r = stuck_reason(pods, events=events)
    assert r.kind == "Readiness" and "HTTP 503" in r.message


def test_healthy_pods_explain_nothing():
    pods = [
        _pod(
            "ok",
            phase="Running",
            conditions=[{"type": "Ready", "status": "True"}],
            containerStatuses=[{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}],
        )
    ]
    assert stuck_reason(pods) is None


def test_new_replicaset_is_current_revision_owned():
    d = {"metadata": {"uid": "u1", "annotations": {"deployment.kubernetes.io/revision": "2"}}}
    own = [{"controller": True, "uid": "u1"}]
    rs1 = {
        "metadata": {
            "name": "a",
            "ownerReferences": own,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        }
    }
    rs2 = {
        "metadata": {
            "name": "b",
            "ownerReferences": own,
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        }
    }
    foreign = {
        "metadata": {
            "name": "c",
            "ownerReferences": [{"controller": True, "uid": "zz"}],
            "annotations": {"deployment.kubernetes.io/revision": "9"},
        }
    }
    assert new_replicaset(d, [rs1, foreign, rs2])["metadata"]["name"] == "b"
