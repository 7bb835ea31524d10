"""Job controller (pkg/controller/job/job_controller.go), NonIndexed completion mode.

Creates pods up to parallelism, counts succeeded/failed pods, and finishes with the
SuccessCriteriaMet + Complete or FailureTarget + Failed (BackoffLimitExceeded) condition pairs.
Retries of failed pods are created without the exponential back-off delay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim.clock import rfc3339
from kubesim.controllers.common import PODS, is_ready, pods_by_owner
from kubesim.objects import Obj, clone, name_of, ns_of, owner_ref, uid_of

if TYPE_CHECKING:
    from kubesim.world import World

JOBS = "batch/jobs"
COMPONENT = "job-controller"


def _cond(ctype: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = rfc3339(now)
    return {
        "type": ctype,
        "status": "True",
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def _finished(job: Obj) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


class JobController:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store

    def next_wakeup(self) -> float | None:
        return None

    def sync(self) -> None:
        owned = pods_by_owner(self.store.list(PODS))
        for job in list(self.store.list(JOBS)):
            if job["metadata"].get("deletionTimestamp") or _finished(job):
                continue
            self._sync_one(job, owned.get(uid_of(job), []))

    def _sync_one(self, job: Obj, pods: list[Obj]) -> None:
        now = self.world.clock.now()
        spec = job["spec"]
        status = dict(job.get("status") or {})
        active = [p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
        succeeded = sum(1 for p in pods if p.get("status", {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed")
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", 6))
        conditions = list(status.get("conditions") or [])
        if spec.get("suspend"):
            return
        if "startTime" not in status:
            status["startTime"] = rfc3339(now)
        if succeeded >= completions:
            for p in active:
                self.world.gc.delete(self.world.rt(PODS), p)
            active = []
            msg = "Reached expected number of succeeded pods"
            conditions += [
                _cond("SuccessCriteriaMet", "CompletionsReached", msg, now),
                _cond("Complete", "CompletionsReached", msg, now),
            ]
            status["completionTime"] = rfc3339(now)
            self.world.events.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        elif failed > backoff_limit:
            for p in active:
                self.world.gc.delete(self.world.rt(PODS), p)
            active = []
            msg = "Job has reached the specified backoff limit"
            conditions += [
                _cond("FailureTarget", "BackoffLimitExceeded", msg, now),
                _cond("Failed", "BackoffLimitExceeded", msg, now),
            ]
            self.world.events.record(job, "Warning", "BackoffLimitExceeded", msg, COMPONENT)
        else:
            want = min(parallelism, completions - succeeded)
            for _ in range(want - len(active)):
                active.append(self._create_pod(job))
        status.update(
            {
                "active": len(active),
                "succeeded": succeeded,
                "failed": failed,
                "ready": sum(1 for p in active if is_ready(p)),
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        )
        for k in ("active", "succeeded", "failed"):
            if status[k] == 0:
                del status[k]
        if conditions:
            status["conditions"] = conditions
        if status != (job.get("status") or {}):
            new = clone(self.store.get(JOBS, ns_of(job), name_of(job)) or job)
            new["status"] = status
            self.store.put(JOBS, new)

    def _create_pod(self, job: Obj) -> Obj:
        template = clone(job["spec"].get("template") or {})
        md = template.get("metadata") or {}
        pod: Obj = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "generateName": f"{name_of(job)}-",
                "namespace": ns_of(job),
                "labels": dict(md.get("labels") or {}),
                "ownerReferences": [owner_ref(job)],
            },
            "spec": template.get("spec") or {},
        }
        if md.get("annotations"):
            pod["metadata"]["annotations"] = dict(md["annotations"])
        pod = self.world.create_internal(PODS, ns_of(job), pod)
        self.world.events.record(job, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}", COMPONENT)
        return pod
