"""A fake scheduler + kubelet: binds pods to nodes and reports container states per image profile.

Pod status is recomputed from (start time, image profile, now) on every pass and written only
when it changed; `next_wakeup` tells the world when the next state change is due (a pod becoming
ready, a crash-loop restart, a Job pod finishing), so nothing polls while idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim.clock import parse_time, rfc3339
from kubesim.lifecycle import PULL_ERROR_SECONDS, ContainerView, container_view
from kubesim.objects import Obj, clone, name_of, ns_of, uid_of
from kubesim.scenario import parse_quantity

if TYPE_CHECKING:
    from kubesim.world import World

PODS, NODES = "/pods", "/nodes"


def pod_requests(pod: Obj) -> tuple[float, float]:
    cpu = mem = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += parse_quantity(req.get("cpu"))
        mem += parse_quantity(req.get("memory"))
    return cpu, mem


def qos_class(pod: Obj) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    res = [(c.get("resources") or {}) for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    for r in res:
        lim = r.get("limits") or {}
        req = r.get("requests") or lim
        if not (lim.get("cpu") and lim.get("memory")) or req != lim:
            return "Burstable"
    return "Guaranteed"


def runs_to_completion(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("restartPolicy", "Always") != "Always"


def _cond(
    ctype: str, status: bool, ts: float, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "type": ctype,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(ts),
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


class Kubelet:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store
        self._next: float | None = None
        self._next_significant: float | None = None
        self._emitted: dict[str, set[str]] = {}  # pod uid -> event keys already recorded
        self._unschedulable_msg: dict[str, str] = {}
        # precise start times: status.startTime has second precision, readiness delays do not
        self._t0: dict[str, float] = {}

    def next_wakeup(self, significant_only: bool = False) -> float | None:
        return self._next_significant if significant_only else self._next

    # -- scheduling ---------------------------------------------------------------------------
    def _schedule(self, pod: Obj, now: float, nodes: list[Obj], used: dict[str, list[float]]) -> None:
        cpu, mem = pod_requests(pod)
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        fits, insufficient_cpu, insufficient_mem, mismatch = [], 0, 0, 0
        for node in nodes:
            nname = name_of(node)
            labels = node["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()):
                mismatch += 1
                continue
            alloc = node["status"]["allocatable"]
            free_cpu = parse_quantity(alloc["cpu"]) - used[nname][0]
            free_mem = parse_quantity(alloc["memory"]) - used[nname][1]
            ok = True
            if cpu > free_cpu + 1e-9:
                insufficient_cpu += 1
                ok = False
            if mem > free_mem + 1e-9:
                insufficient_mem += 1
                ok = False
            if ok:
                fits.append(node)
        if not fits:
            self._unschedulable(pod, now, len(nodes), insufficient_cpu, insufficient_mem, mismatch)
            return
        node = min(fits, key=lambda n: (used[name_of(n)][2], name_of(n)))
        nname = name_of(node)
        used[nname][0] += cpu
        used[nname][1] += mem
        used[nname][2] += 1
        p = clone(pod)
        p["spec"]["nodeName"] = nname
        host_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        pod_ip = self.world.allocate_ip("10.244")
        p["status"] = {
            "phase": "Pending",
            "conditions": [_cond("PodScheduled", True, now)],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": rfc3339(now),
            "qosClass": qos_class(pod),
        }
        self._t0[uid_of(p)] = now
        self.store.put(PODS, p)
        self.world.events.record(
            p,
            "Normal",
            "Scheduled",
            f"Successfully assigned {ns_of(p)}/{name_of(p)} to {nname}",
            "default-scheduler",
        )
        self._unschedulable_msg.pop(uid_of(pod), None)

    def _unschedulable(self, pod: Obj, now: float, total: int, cpu: int, mem: int, mismatch: int) -> None:
        reasons = []
        if cpu:
            reasons.append(f"{cpu} Insufficient cpu")
        if mem:
            reasons.append(f"{mem} Insufficient memory")
        if mismatch:
            reasons.append(f"{mismatch} node(s) didn't match Pod's node affinity/selector")
        victims = (
            "No preemption victims found for incoming pod"
            if (cpu or mem)
            else "Preemption is not helpful for scheduling"
        )
        msg = (
            f"0/{total} nodes are available: {', '.join(reasons) or 'no nodes available'}. "
            f"preemption: 0/{total} nodes are available: {total} {victims}."
        )
        if self._unschedulable_msg.get(uid_of(pod)) == msg and pod.get("status", {}).get("conditions"):
            return
        self._unschedulable_msg[uid_of(pod)] = msg
        p = clone(pod)
        p["status"] = {
            "phase": "Pending",
            "qosClass": qos_class(pod),
            "conditions": [_cond("PodScheduled", False, now, "Unschedulable", msg)],
        }
        self.store.put(PODS, p)
        self.world.events.record(p, "Warning", "FailedScheduling", msg, "default-scheduler")

    # -- the kubelet pass ---------------------------------------------------------------------
    def sync(self) -> None:
        now = self.world.clock.now()
        nodes = sorted(self.store.list(NODES), key=name_of)
        pods = self.store.list(PODS)
        used: dict[str, list[float]] = {name_of(n): [0.0, 0.0, 0] for n in nodes}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in used and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                cpu, mem = pod_requests(pod)
                used[node][0] += cpu
                used[node][1] += mem
                used[node][2] += 1
        nxt: list[float] = []
        sig: list[float] = []
        alive = set()
        for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", "")):
            alive.add(uid_of(pod))
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if not (pod.get("spec") or {}).get("nodeName"):
                self._schedule(pod, now, nodes, used)
                pod = self.store.get(PODS, ns_of(pod), name_of(pod)) or pod
                if not pod["spec"].get("nodeName"):
                    continue
            t, s = self._sync_pod(pod, now)
            if t is not None:
                nxt.append(t)
            if s is not None:
                sig.append(s)
        for d in (self._emitted, self._t0, self._unschedulable_msg):
            for uid in [u for u in d if u not in alive]:
                del d[uid]
        self._next = min(nxt) if nxt else None
        self._next_significant = min(sig) if sig else None

    def start_time(self, pod: Obj, now: float) -> float:
        t0 = self._t0.get(uid_of(pod))
        if t0 is None:
            t0 = parse_time((pod.get("status") or {}).get("startTime")) or now
        return t0

    def views(self, pod: Obj, now: float) -> list[ContainerView]:
        t0 = self.start_time(pod, now)
        rtc = runs_to_completion(pod)
        return [
            container_view(pod, c, self.world.profile(c.get("image", "")), t0, now, rtc)
            for c in pod["spec"].get("containers") or []
        ]

    def _sync_pod(self, pod: Obj, now: float) -> tuple[float | None, float | None]:
        """Write the pod's current status; return (next change, next significant change)."""
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return None, None
        t0 = self.start_time(pod, now)
        views = self.views(pod, now)
        self._record_events(pod, views, t0, now)
        all_ready = bool(views) and all(v.ready for v in views)
        finished = [v.terminated_exit for v in views]
        if runs_to_completion(pod) and views and all(x is not None for x in finished):
            phase = "Succeeded" if all(x == 0 for x in finished) else "Failed"
        elif any("waiting" in v.status["state"] and not v.status.get("lastState") for v in views):
            phase = "Pending"  # kubelet getPhase: a container that never started keeps the pod Pending
        else:
            phase = "Running"
        ready_ts = t0
        if all_ready:
            ready_ts = max(parse_time(v.status["state"]["running"]["startedAt"]) or t0 for v in views)
            ready_ts = max(
                [ready_ts]
                + [
                    t0 + self.world.profile(c.get("image", "")).ready_after_seconds
                    for c in pod["spec"]["containers"]
                ]
            )
            if runs_to_completion(pod):
                ready_ts = t0
        not_ready = [v.status["name"] for v in views if not v.ready]
        if phase in ("Succeeded", "Failed"):
            end = max((parse_time(v.status["state"]["terminated"]["finishedAt"]) or t0) for v in views)
            reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
            ready_cond = _cond("Ready", False, end, reason)
            creason: dict[str, Any] = {"reason": reason}
            cr_cond = dict(_cond("ContainersReady", False, end), **creason)
        elif all_ready:
            ready_cond = _cond("Ready", True, ready_ts)
            cr_cond = _cond("ContainersReady", True, ready_ts)
        else:
            msg = f"containers with unready status: [{' '.join(not_ready)}]"
            ready_cond = _cond("Ready", False, t0, "ContainersNotReady", msg)
            cr_cond = _cond("ContainersReady", False, t0, "ContainersNotReady", msg)
        new_status = dict(status)
        new_status["phase"] = phase
        new_status["conditions"] = [
            _cond("PodReadyToStartContainers", True, t0),
            _cond("Initialized", True, t0),
            ready_cond,
            cr_cond,
            _cond("PodScheduled", True, t0),
        ]
        new_status["containerStatuses"] = [v.status for v in views]
        if new_status != status:
            p = clone(pod)
            p["status"] = new_status
            self.store.put(PODS, p)
        pending = [v.next_change for v in views if v.next_change is not None]
        significant = [v.next_change for v in views if v.next_change is not None and v.significant]
        return (min(pending) if pending else None), (min(significant) if significant else None)

    def _emit_once(self, pod: Obj, key: str, etype: str, reason: str, msg: str) -> None:
        seen = self._emitted.setdefault(uid_of(pod), set())
        if key in seen:
            return
        seen.add(key)
        self.world.events.record(pod, etype, reason, msg, "kubelet", pod["spec"].get("nodeName"))

    def _record_events(self, pod: Obj, views: list[ContainerView], t0: float, now: float) -> None:
        for c, v in zip(pod["spec"]["containers"], views, strict=False):
            name, image = c["name"], c.get("image", "")
            self._emit_once(pod, f"pull/{name}", "Normal", "Pulling", f'Pulling image "{image}"')
            if v.waiting_reason in ("ErrImagePull", "ImagePullBackOff"):
                err = (
                    f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull '
                    f'and unpack image "{image}": not found'
                )
                self._emit_once(pod, f"pullfail/{name}", "Warning", "Failed", err)
                self._emit_once(pod, f"errpull/{name}", "Warning", "Failed", "Error: ErrImagePull")
                if now >= t0 + PULL_ERROR_SECONDS:
                    self._emit_once(
                        pod, f"backoff/{name}", "Normal", "BackOff", f'Back-off pulling image "{image}"'
                    )
                    self._emit_once(pod, f"errbackoff/{name}", "Warning", "Failed", "Error: ImagePullBackOff")
                continue
            self._emit_once(
                pod,
                f"pulled/{name}",
                "Normal",
                "Pulled",
                f'Successfully pulled image "{image}" in 512ms (512ms including waiting)',
            )
            for i, _a in enumerate(v.attempts):
                self._emit_once(pod, f"created/{name}/{i}", "Normal", "Created", f"Created container: {name}")
                self._emit_once(pod, f"started/{name}/{i}", "Normal", "Started", f"Started container {name}")
            if v.waiting_reason == "CrashLoopBackOff":
                self._emit_once(
                    pod,
                    f"crash/{name}/{len(v.attempts)}",
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod "
                    f"{name_of(pod)}_{ns_of(pod)}({uid_of(pod)})",
                )
