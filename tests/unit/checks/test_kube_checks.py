from airlock.checks.cluster import judge_cluster
from airlock.checks.staging import judge_staging, pod_problem, rollout_problem


def deployment(
    name="api", generation=2, observed=2, replicas=3, updated=3, total=3, available=3, conditions=()
):
    return {
        "metadata": {"name": name, "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


def pod(name="api-1", phase="Running", ready=True, waiting=None, restarts=0, reason=None, deleting=False):
    status = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {
                "name": "app",
                "ready": ready,
                "restartCount": restarts,
                "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
            }
        ],
    }
    if reason:
        status["reason"] = reason
    meta = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": status}


def test_rollout_rules_follow_kubectl():
    assert rollout_problem(deployment()) is None
    assert "not yet observed" in rollout_problem(deployment(generation=3, observed=2))
    assert "progress deadline" in rollout_problem(
        deployment(
            conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
        )
    )
    assert "1 of 3 replicas updated" in rollout_problem(deployment(updated=1))
    assert "2 old replicas pending termination" in rollout_problem(deployment(total=5))
    assert "2 of 3 updated replicas available" in rollout_problem(deployment(available=2))
    assert rollout_problem(deployment(replicas=0, updated=0, total=0, available=0)) is None


def test_pod_problems_name_phase_and_reason():
    assert pod_problem(pod()) is None
    assert pod_problem(pod(phase="Succeeded", ready=False)) is None
    assert pod_problem(pod(deleting=True, ready=False)) is None
    assert (
        pod_problem(pod("w-1", ready=False, waiting="CrashLoopBackOff", restarts=4))
        == "w-1 (Running: app: CrashLoopBackOff (4 restarts))"
    )
    assert (
        pod_problem(pod("w-2", phase="Pending", ready=False, waiting="ImagePullBackOff"))
        == "w-2 (Pending: app: ImagePullBackOff)"
    )
    assert pod_problem(pod("w-3", phase="Failed", ready=False, reason="Evicted")) == "w-3 (Failed: Evicted)"
    assert pod_problem(pod("w-4", ready=False)) == "w-4 (Running: not Ready)"


def test_judge_staging_statuses():
    ok = judge_staging([deployment()], [pod()], "staging")
    assert ok.status == "pass" and "1 Deployment(s) rolled out" in ok.reason
    bad = judge_staging(
        [deployment(updated=1)], [pod(), pod("x", ready=False, waiting="CrashLoopBackOff")], "staging"
    )
    assert bad.status == "fail"
    assert "1 of 3 replicas updated" in bad.reason and "x (Running: app: CrashLoopBackOff)" in bad.reason
    assert judge_staging([], [], "staging").status == "fail"


def node(name, ready="True", cpu="4", memory="16Gi"):
    return {
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory},
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletNotReady" if ready != "True" else "KubeletReady",
                }
            ],
        },
    }


def usage(name, cpu, memory):
    return {"metadata": {"name": name}, "usage": {"cpu": cpu, "memory": memory}}


def test_cluster_pass_with_numbers():
    r = judge_cluster(
        [node("n1"), node("n2")], [usage("n1", "1000m", "4Gi"), usage("n2", "2", "8Gi")], 0.85, 0.9
    )
    assert r.status == "pass"
    assert "peak CPU 50%" in r.reason and "peak memory 50%" in r.reason
    assert r.evidence["usage"][0]["cpu"] == 0.25


def test_cluster_fails_on_not_ready_and_usage():
    r = judge_cluster(
        [node("n1", ready="False"), node("n2")],
        [usage("n1", "100m", "1Gi"), usage("n2", "3900m", "15564Mi")],
        0.85,
        0.9,
    )
    assert r.status == "fail"
    assert "n1 (KubeletNotReady)" in r.reason
    assert "n2 cpu 98% (3900m of 4) > 85%" in r.reason
    assert "n2 memory 95% (15.2Gi of 16Gi) > 90%" in r.reason


def test_cluster_warns_without_metrics():
    assert judge_cluster([node("n1")], None, 0.85, 0.9).status == "warn"
    assert judge_cluster([node("n1"), node("n2")], [usage("n1", "1", "1Gi")], 0.85, 0.9).status == "warn"
    assert judge_cluster([], [], 0.85, 0.9).status == "fail"


def test_staging_judges_rollouts_with_the_one_rollout_status():
    """The staging check words the finding briefly but never disagrees with `rollout_status` (kubectl's rules)."""
    from airlock.kube.status import rollout_status

    cases = [
        deployment(),
        deployment(generation=3, observed=2),
        deployment(
            conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
        ),
        deployment(updated=1),
        deployment(total=5),
        deployment(available=2),
        deployment(replicas=0, updated=0, total=0, available=0),
    ]
    for d in cases:
        status = rollout_status(d)
        assert (rollout_problem(d) is None) == status.done
        if not status.done:
            assert rollout_problem(d) == f"api: {status.detail}"
