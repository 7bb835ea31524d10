"""Deployment controller (pkg/controller/deployment/{sync,rolling,recreate,progress}.go and
deployment/util/deployment_util.go), following the Go code closely so that kubectl's
`rollout status/history/undo` see what they would see on a real cluster."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kubesim.clock import parse_time, rfc3339
from kubesim.defaults import POD_TEMPLATE_HASH, template_hash, templates_equal
from kubesim.objects import (
    Obj,
    annotations_of,
    clone,
    controller_ref,
    get_condition,
    name_of,
    ns_of,
    owner_ref,
    uid_of,
)

if TYPE_CHECKING:
    from kubesim.world import World

DEPLOY, RS = "apps/deployments", "apps/replicasets"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_SKIP_COPY = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
COMPONENT = "deployment-controller"


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100.0
        return int(math.ceil(scaled) if round_up else math.floor(scaled))
    return int(value or 0)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as ResolveFenceposts: surge rounds up, unavailable down."""
    replicas = int(d["spec"].get("replicas", 1))
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d: Obj) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    replicas = int(d["spec"].get("replicas", 1))
    if not is_rolling(d) or replicas == 0:
        return 0
    return min(fenceposts(d)[1], replicas)


def revision(rs: Obj) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def _replicas(rs: Obj | None) -> int:
    return int(rs["spec"].get("replicas", 0)) if rs else 0


def _st(rs: Obj | None, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0)) if rs else 0


def _created(rs: Obj) -> tuple[str, str]:
    return (rs["metadata"].get("creationTimestamp", ""), name_of(rs))


def _condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = rfc3339(now)
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def _set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition: no-op when status and reason are unchanged."""
    cur = next((c for c in status.get("conditions") or [] if c["type"] == cond["type"]), None)
    if cur and cur["status"] == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur and cur["status"] == cond["status"]:
        cond = dict(cond, lastTransitionTime=cur["lastTransitionTime"])
    status["conditions"] = [c for c in status.get("conditions") or [] if c["type"] != cond["type"]] + [cond]


class DeploymentController:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store
        self._next: float | None = None
        self._wake: list[float] = []

    def next_wakeup(self) -> float | None:
        return self._next

    def sync(self) -> None:
        self._wake = []
        rs_by_owner: dict[str, list[Obj]] = {}
        for rs in self.store.list(RS):
            ref = controller_ref(rs)
            if ref and ref.get("kind") == "Deployment":
                rs_by_owner.setdefault(ref["uid"], []).append(rs)
        for d in list(self.store.list(DEPLOY)):
            if d["metadata"].get("deletionTimestamp"):
                continue
            self._sync_one(d, rs_by_owner.get(uid_of(d), []))
        self._next = min(self._wake) if self._wake else None

    # -- store helpers ------------------------------------------------------------------------
    def _fresh(self, obj: Obj, key: str) -> Obj:
        return self.store.get(key, ns_of(obj), name_of(obj)) or obj

    def _put_deploy(self, d: Obj) -> Obj:
        return self.store.put(DEPLOY, d)

    def _scale_rs(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        size_change = _replicas(rs) != new_scale
        desired = str(d["spec"].get("replicas", 1))
        max_r = str(int(d["spec"].get("replicas", 1)) + max_surge(d))
        ann = annotations_of(rs)
        if not size_change and ann.get(DESIRED) == desired and ann.get(MAX_REPLICAS) == max_r:
            return False, rs
        old_scale = _replicas(rs)
        new = clone(self._fresh(rs, RS))
        new["spec"]["replicas"] = new_scale
        md = new["metadata"]
        md.setdefault("annotations", {}).update({DESIRED: desired, MAX_REPLICAS: max_r})
        if size_change:
            md["generation"] = int(md.get("generation", 1)) + 1
        new = self.store.put(RS, new)
        if size_change:
            op = "up" if old_scale < new_scale else "down"
            self.world.events.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {op} replica set {name_of(rs)} from {old_scale} to {new_scale}",
                COMPONENT,
            )
        return size_change, new

    # -- the sync loop ------------------------------------------------------------------------
    def _sync_one(self, d: Obj, rs_list: list[Obj]) -> None:
        d = self._check_paused_conditions(d)
        if d["spec"].get("paused"):
            new_rs, old = self._get_all(d, rs_list, create=False)
            d = self._fresh(d, DEPLOY)
            self._scale(d, new_rs, old)
            rs_list = self._refresh(rs_list)
            new_rs, old = self._get_all(d, rs_list, create=False)
            self._cleanup(d, old)
            self._sync_status(self._fresh(d, DEPLOY), self._refresh(old), new_rs, progress=False)
            return
        new_rs, old = self._get_all(d, rs_list, create=False)
        if self._is_scaling_event(d, [r for r in [new_rs, *old] if r]):
            self._scale(self._fresh(d, DEPLOY), new_rs, old)
            rs_list = self._refresh(rs_list)
            new_rs, old = self._get_all(self._fresh(d, DEPLOY), rs_list, create=False)
            self._sync_status(self._fresh(d, DEPLOY), old, new_rs, progress=False)
            return
        if is_rolling(d):
            self._rollout_rolling(d, rs_list)
        else:
            self._rollout_recreate(d, rs_list)

    def _refresh(self, rss: list[Obj]) -> list[Obj]:
        out = []
        for rs in rss:
            cur = self.store.get(RS, ns_of(rs), name_of(rs))
            if cur is not None:
                out.append(cur)
        return out

    def _check_paused_conditions(self, d: Obj) -> Obj:
        if not d["spec"].get("progressDeadlineSeconds"):
            return d
        cond = get_condition(d, "Progressing")
        if cond and cond.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_exists = bool(cond and cond.get("reason") == "DeploymentPaused")
        now = self.world.clock.now()
        if d["spec"].get("paused") and not paused_exists:
            c = _condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
        elif not d["spec"].get("paused") and paused_exists:
            c = _condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now)
        else:
            return d
        new = clone(d)
        _set_condition(new.setdefault("status", {}), c)
        return self._put_deploy(new)

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        want = str(d["spec"].get("replicas", 1))
        for rs in rss:
            if _replicas(rs) > 0:
                desired = annotations_of(rs).get(DESIRED)
                if desired is not None and desired != want:
                    return True
        return False

    def _get_all(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (new RS or None, old RSs)."""
        rs_sorted = sorted(rs_list, key=_created)
        template = d["spec"].get("template")
        existing = next(
            (rs for rs in rs_sorted if templates_equal(rs["spec"].get("template"), template)), None
        )
        old = [rs for rs in rs_sorted if existing is None or uid_of(rs) != uid_of(existing)]
        new_revision = max([revision(rs) for rs in old] + [0]) + 1
        now = self.world.clock.now()
        if existing is not None:
            rs_copy = clone(existing)
            changed = self._set_new_rs_annotations(d, rs_copy, new_revision, exists=True)
            if int(rs_copy["spec"].get("minReadySeconds", 0)) != int(d["spec"].get("minReadySeconds", 0)):
                rs_copy["spec"]["minReadySeconds"] = int(d["spec"].get("minReadySeconds", 0))
                changed = True
            if changed:
                existing = self.store.put(RS, rs_copy)
            d = self._fresh(d, DEPLOY)
            new_d = clone(d)
            needs = self._set_deployment_revision(new_d, annotations_of(existing).get(REVISION, ""))
            if d["spec"].get("progressDeadlineSeconds") and get_condition(d, "Progressing") is None:
                _set_condition(
                    new_d.setdefault("status", {}),
                    _condition(
                        "Progressing",
                        "True",
                        "FoundNewReplicaSet",
                        f'Found new replica set "{name_of(existing)}"',
                        now,
                    ),
                )
                needs = True
            if needs:
                self._put_deploy(new_d)
            return existing, old
        if not create:
            return None, old
        return self._create_new_rs(d, old, new_revision, now), old

    def _set_new_rs_annotations(self, d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
        ann = rs["metadata"].setdefault("annotations", {})
        changed = False
        for k, v in annotations_of(d).items():
            if k in _SKIP_COPY or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        old_rev = ann.get(REVISION, "")
        try:
            old_int = int(old_rev) if old_rev else 0
        except ValueError:
            old_int = 0
        if old_int < new_revision:
            ann[REVISION] = str(new_revision)
            changed = True
            if old_rev:
                hist = ann.get(REVISION_HISTORY, "")
                ann[REVISION_HISTORY] = f"{hist},{old_rev}" if hist else old_rev
        if not exists:
            ann[DESIRED] = str(d["spec"].get("replicas", 1))
            ann[MAX_REPLICAS] = str(int(d["spec"].get("replicas", 1)) + max_surge(d))
            changed = True
        return changed

    def _set_deployment_revision(self, d: Obj, rev: str) -> bool:
        ann = d["metadata"].setdefault("annotations", {})
        if rev and ann.get(REVISION) != rev:
            ann[REVISION] = rev
            return True
        return False

    def _create_new_rs(self, d: Obj, old: list[Obj], new_revision: int, now: float) -> Obj:
        collision = int((d.get("status") or {}).get("collisionCount", 0))
        template = clone(d["spec"]["template"])
        h = template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = h
        selector = clone(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = h
        rs: Obj = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": f"{name_of(d)}-{h}",
                "namespace": ns_of(d),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int(d["spec"].get("minReadySeconds", 0)),
                "selector": selector,
                "template": template,
            },
        }
        self._set_new_rs_annotations(d, rs, new_revision, exists=False)
        all_rss = old
        want = self._new_rs_new_replicas(d, all_rss, rs)
        rs["spec"]["replicas"] = want
        rs = self.world.create_internal(RS, ns_of(d), rs)
        if want > 0:
            self.world.events.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {name_of(rs)} from 0 to {want}",
                COMPONENT,
            )
        d = clone(self._fresh(d, DEPLOY))
        self._set_deployment_revision(d, str(new_revision))
        if d["spec"].get("progressDeadlineSeconds"):
            _set_condition(
                d.setdefault("status", {}),
                _condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    f'Created new replica set "{name_of(rs)}"',
                    now,
                ),
            )
        self._put_deploy(d)
        return rs

    def _new_rs_new_replicas(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
        replicas = int(d["spec"].get("replicas", 1))
        if not is_rolling(d):
            return replicas
        current = sum(_replicas(rs) for rs in all_rss if uid_of(rs) != uid_of(new_rs)) + _replicas(new_rs)
        max_total = replicas + max_surge(d)
        if current >= max_total:
            return _replicas(new_rs)
        scale_up = min(max_total - current, replicas - _replicas(new_rs))
        return _replicas(new_rs) + scale_up

    # -- rolling ------------------------------------------------------------------------------
    def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old = self._get_all(d, rs_list, create=True)
        d = self._fresh(d, DEPLOY)
        assert new_rs is not None
        all_rss = old + [new_rs]
        if self._reconcile_new(d, all_rss, new_rs):
            self._sync_status(d, self._refresh(old), self._fresh(new_rs, RS))
            return
        new_rs = self._fresh(new_rs, RS)
        old = self._refresh(old)
        if self._reconcile_old(d, old + [new_rs], [r for r in old if _replicas(r) > 0], new_rs):
            self._sync_status(d, self._refresh(old), self._fresh(new_rs, RS))
            return
        if self._complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        self._sync_status(self._fresh(d, DEPLOY), self._refresh(old), self._fresh(new_rs, RS))

    def _reconcile_new(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> bool:
        replicas = int(d["spec"].get("replicas", 1))
        if _replicas(new_rs) == replicas:
            return False
        if _replicas(new_rs) > replicas:
            return self._scale_rs(new_rs, replicas, d)[0]
        return self._scale_rs(new_rs, self._new_rs_new_replicas(d, all_rss, new_rs), d)[0]

    def _reconcile_old(self, d: Obj, all_rss: list[Obj], old_active: list[Obj], new_rs: Obj) -> bool:
        old_count = sum(_replicas(r) for r in old_active)
        if old_count == 0:
            return False
        all_count = sum(_replicas(r) for r in all_rss)
        min_available = int(d["spec"].get("replicas", 1)) - max_unavailable(d)
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # cleanupUnhealthyReplicas
        total = 0
        old_sorted = sorted(old_active, key=_created)
        for i, rs in enumerate(old_sorted):
            if total >= max_scaled_down:
                break
            unhealthy = _replicas(rs) - _st(rs, "availableReplicas")
            if _replicas(rs) == 0 or unhealthy <= 0:
                continue
            n = min(max_scaled_down - total, unhealthy)
            _, old_sorted[i] = self._scale_rs(rs, _replicas(rs) - n, d)
            total += n
        # scaleDownOldReplicaSetsForRollingUpdate
        available = sum(_st(r, "availableReplicas") for r in old_sorted + [new_rs])
        scaled = 0
        if available > min_available:
            to_scale = available - min_available
            for rs in sorted(old_sorted, key=_created):
                if scaled >= to_scale:
                    break
                if _replicas(rs) == 0:
                    continue
                n = min(_replicas(rs), to_scale - scaled)
                self._scale_rs(rs, _replicas(rs) - n, d)
                scaled += n
        return total + scaled > 0

    # -- recreate -----------------------------------------------------------------------------
    def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old = self._get_all(d, rs_list, create=False)
        scaled_down = False
        for rs in old:
            if _replicas(rs) > 0:
                scaled_down |= self._scale_rs(rs, 0, d)[0]
        if scaled_down:
            self._sync_status(self._fresh(d, DEPLOY), self._refresh(old), new_rs)
            return
        if any(_st(rs, "replicas") > 0 for rs in self._refresh(old)):
            self._sync_status(self._fresh(d, DEPLOY), self._refresh(old), new_rs)
            return
        d = self._fresh(d, DEPLOY)
        if new_rs is None:
            new_rs, old = self._get_all(d, rs_list, create=True)
            d = self._fresh(d, DEPLOY)
        assert new_rs is not None
        self._scale_rs(self._fresh(new_rs, RS), int(d["spec"].get("replicas", 1)), d)
        if self._complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        self._sync_status(self._fresh(d, DEPLOY), self._refresh(old), self._fresh(new_rs, RS))

    # -- scaling (paused deployments and replica changes mid-rollout) --------------------------
    def _scale(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        replicas = int(d["spec"].get("replicas", 1))
        all_rss = [r for r in [new_rs, *old] if r]
        active = [r for r in all_rss if _replicas(r) > 0]
        target = None
        if len(active) == 1:
            target = active[0]
        elif not active and all_rss:
            target = new_rs or sorted(old, key=_created)[-1]
        if target is not None or not active:
            if target is not None and _replicas(target) != replicas:
                self._scale_rs(target, replicas, d)
            return
        if new_rs and _replicas(new_rs) == replicas and _st(new_rs, "availableReplicas") == replicas:
            for rs in old:
                if _replicas(rs) > 0:
                    self._scale_rs(rs, 0, d)
            return
        if not is_rolling(d):
            return
        allowed = replicas + max_surge(d)
        current = sum(_replicas(r) for r in active)
        to_add = allowed - current
        if to_add == 0:
            return
        # proportional split, by size; newest first when growing, oldest first when shrinking
        order = sorted(active, key=lambda r: (_replicas(r), _created(r)), reverse=to_add > 0)
        shares, given = [], 0
        for rs in order:
            share = int(to_add * _replicas(rs) / current) if current else 0
            share = max(share, -_replicas(rs))
            shares.append(share)
            given += share
        shares[0] += to_add - given
        for rs, share in zip(order, shares, strict=True):
            self._scale_rs(rs, max(0, _replicas(rs) + share), d)

    def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [r for r in old if not r["metadata"].get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=revision)[:diff]:
            cur = self.store.get(RS, ns_of(rs), name_of(rs))
            if (
                cur is None
                or _st(cur, "replicas") != 0
                or _replicas(cur) != 0
                or int(cur["metadata"].get("generation", 1)) > _st(cur, "observedGeneration")
            ):
                continue
            self.world.gc.delete(self.world.rt(RS), cur)

    # -- status -------------------------------------------------------------------------------
    def _complete(self, d: Obj, status: dict[str, Any]) -> bool:
        replicas = int(d["spec"].get("replicas", 1))
        return (
            int(status.get("updatedReplicas", 0)) == replicas
            and int(status.get("replicas", 0)) == replicas
            and int(status.get("availableReplicas", 0)) == replicas
            and int(status.get("observedGeneration", 0)) >= int(d["metadata"].get("generation", 1))
        )

    def _calculate_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> dict[str, Any]:
        available = sum(_st(r, "availableReplicas") for r in all_rss)
        total = sum(_replicas(r) for r in all_rss)
        status: dict[str, Any] = {
            "observedGeneration": int(d["metadata"].get("generation", 1)),
            "replicas": sum(_st(r, "replicas") for r in all_rss),
            "updatedReplicas": _st(new_rs, "replicas"),
            "readyReplicas": sum(_st(r, "readyReplicas") for r in all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
            "conditions": [dict(c) for c in (d.get("status") or {}).get("conditions") or []],
        }
        if "collisionCount" in (d.get("status") or {}):
            status["collisionCount"] = d["status"]["collisionCount"]
        now = self.world.clock.now()
        if available >= int(d["spec"].get("replicas", 1)) - max_unavailable(d):
            _set_condition(
                status,
                _condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                ),
            )
        else:
            _set_condition(
                status,
                _condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                ),
            )
        return status

    def _sync_status(self, d: Obj, old: list[Obj], new_rs: Obj | None, progress: bool = True) -> None:
        all_rss = [r for r in [*old, new_rs] if r]
        status = self._calculate_status(d, all_rss, new_rs)
        deadline = d["spec"].get("progressDeadlineSeconds")
        now = self.world.clock.now()
        if progress:
            if not deadline:
                status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"]
            cur = get_condition(d, "Progressing")
            complete_already = (
                status["replicas"] == status["updatedReplicas"]
                and cur is not None
                and cur.get("reason") == "NewReplicaSetAvailable"
            )
            if deadline and not complete_already:
                rs_name = name_of(new_rs) if new_rs else name_of(d)
                what = "ReplicaSet" if new_rs else "Deployment"
                if self._complete(d, status):
                    _set_condition(
                        status,
                        _condition(
                            "Progressing",
                            "True",
                            "NewReplicaSetAvailable",
                            f'ReplicaSet "{rs_name}" has successfully progressed.',
                            now,
                        ),
                    )
                elif self._progressing(d, status):
                    c = _condition(
                        "Progressing", "True", "ReplicaSetUpdated", f'{what} "{rs_name}" is progressing.', now
                    )
                    pc = next((x for x in status["conditions"] if x["type"] == "Progressing"), None)
                    if pc is not None:
                        if pc["status"] == "True":
                            c["lastTransitionTime"] = pc["lastTransitionTime"]
                        status["conditions"] = [x for x in status["conditions"] if x["type"] != "Progressing"]
                    status["conditions"].append(c)
                elif self._timed_out(d, status, now):
                    _set_condition(
                        status,
                        _condition(
                            "Progressing",
                            "False",
                            "ProgressDeadlineExceeded",
                            f'{what} "{rs_name}" has timed out progressing.',
                            now,
                        ),
                    )
        old_status = d.get("status") or {}
        if status != old_status:
            new = clone(self._fresh(d, DEPLOY))
            new["status"] = status
            d = self._put_deploy(new)
        self._requeue_stuck(d, now)

    def _progressing(self, d: Obj, new: dict[str, Any]) -> bool:
        old = d.get("status") or {}
        old_old = int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
        new_old = new["replicas"] - new["updatedReplicas"]
        return (
            new["updatedReplicas"] > int(old.get("updatedReplicas", 0))
            or new_old < old_old
            or new["readyReplicas"] > int(old.get("readyReplicas", 0))
            or new["availableReplicas"] > int(old.get("availableReplicas", 0))
        )

    def _timed_out(self, d: Obj, status: dict[str, Any], now: float) -> bool:
        c = next((x for x in status["conditions"] if x["type"] == "Progressing"), None)
        if c is None or c.get("reason") == "NewReplicaSetAvailable":
            return False
        if c.get("reason") == "ProgressDeadlineExceeded":
            return True
        since = parse_time(c.get("lastUpdateTime")) or now
        return since + int(d["spec"]["progressDeadlineSeconds"]) < now

    def _requeue_stuck(self, d: Obj, now: float) -> None:
        deadline = d["spec"].get("progressDeadlineSeconds")
        c = get_condition(d, "Progressing")
        if not deadline or d["spec"].get("paused") or c is None:
            return
        if c.get("reason") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            return
        since = parse_time(c.get("lastUpdateTime"))
        if since is not None:
            # +1s: the condition times out strictly after the deadline at second precision
            self._wake.append(since + int(deadline) + 1.0)
