"""Kubernetes API verbs over the store, independent of HTTP (registry strategies live here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.clock import rfc3339
from kubesim.defaults import default_object
from kubesim.objects import Obj, clone, meta, name_of, ns_of, uid_of
from kubesim.patch import apply_patch
from kubesim.resources import BY_KEY, ResourceType
from kubesim.selectors import parse_field_selector, parse_label_selector, selector_to_string
from kubesim.validation import check_kind, validate, validate_name

if TYPE_CHECKING:
    from kubesim.world import World

# Kinds whose generation is tracked (strategy.go PrepareForCreate sets generation = 1).
_GENERATION_KINDS = {"Deployment", "ReplicaSet", "Job"}
# Kinds with a status subresource: writes to the main resource keep the stored status.
_STATUS_KINDS = {"Deployment", "ReplicaSet", "Job", "Pod", "Service", "Node", "Namespace"}
# Status is reset on create (PrepareForCreate) for these.
_RESET_STATUS = {"Deployment": {}, "ReplicaSet": {"replicas": 0}, "Job": {}, "Service": {"loadBalancer": {}}}


def _selector_gen(rt: ResourceType, obj: Obj) -> str | None:
    if rt.kind in ("Deployment", "ReplicaSet"):
        return selector_to_string((obj.get("spec") or {}).get("selector"))
    return None


class Api:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store

    # -- reads ------------------------------------------------------------------------------
    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(rt.key, ns if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return obj

    def list(
        self,
        rt: ResourceType,
        ns: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        lp = parse_label_selector(label_selector)
        fp = parse_field_selector(field_selector)
        with self.store.lock:
            objs = self.store.list(rt.key, ns if rt.namespaced else None)
            items = [o for o in objs if lp((o.get("metadata") or {}).get("labels") or {}) and fp(o)]
            rv = self.store.rv
        items.sort(key=lambda o: (ns_of(o), name_of(o)))
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    # -- create -----------------------------------------------------------------------------
    def _ensure_namespace(self, rt: ResourceType, ns: str) -> None:
        if rt.namespaced and self.store.get("/namespaces", "", ns) is None:
            raise errors.not_found("", "namespaces", ns)

    def prepare_create(self, rt: ResourceType, ns: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        check_kind(rt, body)
        obj = clone(body)
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        md = meta(obj)
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + self.world.rng_suffix(5)
            else:
                raise errors.invalid(
                    rt.group,
                    rt.kind,
                    "",
                    [("metadata.name", "Required value: name or generateName is required")],
                )
        validate_name(rt, md["name"])
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            md.pop(k, None)
        md["uid"] = self.world.new_uid()
        md["creationTimestamp"] = rfc3339(self.world.clock.now())
        if rt.kind in _GENERATION_KINDS:
            md["generation"] = 1
        if rt.kind in _RESET_STATUS:
            obj["status"] = clone(_RESET_STATUS[rt.kind])
        elif rt.kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        default_object(rt.kind, obj)
        if rt.kind == "Job":
            self._job_selector(obj)
        if rt.kind == "Service":
            self._allocate_cluster_ip(obj)
        validate(rt, obj, None)
        return obj

    def create(self, rt: ResourceType, ns: str, body: Any, dry_run: bool = False) -> Obj:
        with self.store.lock:
            self._ensure_namespace(rt, ns)
            obj = self.prepare_create(rt, ns, body)
            if self.store.get(rt.key, ns_of(obj), name_of(obj)) is not None:
                raise errors.already_exists(rt.group, rt.plural, name_of(obj))
            if dry_run:
                return obj
            return self.store.put(rt.key, obj)

    def _job_selector(self, job: Obj) -> None:
        spec = job["spec"]
        if spec.get("manualSelector"):
            return
        uid, name = uid_of(job), name_of(job)
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = spec["template"]["metadata"].setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        job_labels = meta(job).setdefault("labels", {})
        job_labels.setdefault("batch.kubernetes.io/controller-uid", uid)
        job_labels.setdefault("batch.kubernetes.io/job-name", name)
        job_labels.setdefault("controller-uid", uid)
        job_labels.setdefault("job-name", name)

    def _allocate_cluster_ip(self, svc: Obj) -> None:
        spec = svc["spec"]
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        if not spec.get("clusterIP"):
            spec["clusterIP"] = self.world.allocate_ip("10.96")
        spec["clusterIPs"] = [spec["clusterIP"]]

    # -- update -----------------------------------------------------------------------------
    def update(
        self, rt: ResourceType, ns: str, name: str, body: Any, sub: str | None = None, dry_run: bool = False
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        with self.store.lock:
            old = self.get(rt, ns, name)
            if sub == "scale":
                return self._write_scale(rt, old, body, dry_run)
            check_kind(rt, body)
            new = clone(body)
            new["kind"], new["apiVersion"] = rt.kind, rt.api_version
            md = meta(new)
            if md.get("name") and md["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
                )
            md["name"] = name
            if rt.namespaced:
                if md.get("namespace") and md["namespace"] != ns:
                    raise errors.bad_request(
                        "the namespace of the provided object does not match the "
                        "namespace sent on the request"
                    )
                md["namespace"] = ns
            rv = md.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    "the object has been modified; please apply your changes to the "
                    "latest version and try again",
                )
            return self._commit_update(rt, old, new, sub, dry_run)

    def _commit_update(self, rt: ResourceType, old: Obj, new: Obj, sub: str | None, dry_run: bool) -> Obj:
        omd, md = old["metadata"], meta(new)
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md.pop("managedFields", None)
        if sub == "status":
            # status strategy: only status (and metadata other than labels) may change
            new["spec"] = clone(old.get("spec"))
            md["labels"] = clone(omd.get("labels"))
            if md["labels"] is None:
                md.pop("labels")
        else:
            if rt.kind in _STATUS_KINDS and "status" in old:
                new["status"] = clone(old["status"])
            default_object(rt.kind, new)
            if rt.kind == "Service":
                old_ip = (old.get("spec") or {}).get("clusterIP")
                if old_ip:
                    new["spec"].setdefault("clusterIP", old_ip)
                self._allocate_cluster_ip(new)
            validate(rt, new, old)
            if rt.kind in _GENERATION_KINDS:
                changed = new.get("spec") != old.get("spec")
                if rt.kind == "Deployment":
                    changed = changed or md.get("annotations") != omd.get("annotations")
                if changed:
                    md["generation"] = int(omd.get("generation", 1)) + 1
        cmp_new = dict(new, metadata={k: v for k, v in md.items() if k != "resourceVersion"})
        cmp_old = dict(old, metadata={k: v for k, v in omd.items() if k != "resourceVersion"})
        if cmp_new == cmp_old:
            return old  # no-op writes do not bump the resourceVersion (like the apiserver)
        if dry_run:
            md["resourceVersion"] = omd["resourceVersion"]
            return new
        if omd.get("deletionTimestamp") and not md.get("finalizers"):
            self.store.put(rt.key, new)
            return self.store.remove(rt.key, ns_of(new), name_of(new)) or new
        return self.store.put(rt.key, new)

    # -- scale subresource --------------------------------------------------------------------
    def scale_of(self, rt: ResourceType, obj: Obj) -> Obj:
        md = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": md["name"],
                "namespace": md.get("namespace"),
                "uid": md["uid"],
                "resourceVersion": md["resourceVersion"],
                "creationTimestamp": md["creationTimestamp"],
            },
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 0))},
            "status": {
                "replicas": int((obj.get("status") or {}).get("replicas", 0)),
                "selector": _selector_gen(rt, obj) or "",
            },
        }

    def _write_scale(self, rt: ResourceType, old: Obj, scale: Obj, dry_run: bool) -> Obj:
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(
                rt.group,
                rt.plural,
                name_of(old),
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "autoscaling",
                "Scale",
                name_of(old),
                [("spec.replicas", f"Invalid value: {replicas}: must be >= 0")],
            )
        new = clone(old)
        new["spec"]["replicas"] = replicas
        out = self._commit_update(rt, old, new, None, dry_run)
        return self.scale_of(rt, out)

    # -- patch ------------------------------------------------------------------------------
    def patch(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        content_type: str,
        patch: Any,
        sub: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self.store.lock:
            old = self.get(rt, ns, name)
            if sub == "scale":
                patched = apply_patch(self.scale_of(rt, old), content_type, patch)
                return self._write_scale(rt, old, patched, dry_run)
            patched = apply_patch(old, content_type, patch)
            if not isinstance(patched, dict):
                raise errors.bad_request("patch produced a non-object")
            md = meta(patched)
            if md.get("name", name) != name:
                raise errors.bad_request("metadata.name cannot be changed by a patch")
            md["name"] = name
            rv = md.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    "the object has been modified; please apply your changes to the "
                    "latest version and try again",
                )
            check_kind(rt, patched)
            return self._commit_update(rt, old, patched, sub, dry_run)

    # -- delete -----------------------------------------------------------------------------
    def delete(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        options = options or {}
        with self.store.lock:
            obj = self.get(rt, ns, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != uid_of(obj):
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, "
                    f"UID in object meta: {uid_of(obj)}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                    f"{obj['metadata']['resourceVersion']}",
                )
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is True:
                policy = "Orphan"
            policy = policy or "Background"
            if policy not in ("Background", "Foreground", "Orphan"):
                raise errors.invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    [("propagationPolicy", f'Unsupported value: "{policy}"')],
                )
            if not dry_run:
                self.world.gc.delete(rt, obj, policy)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid_of(obj)},
            }

    def delete_collection(
        self,
        rt: ResourceType,
        ns: str | None,
        label_selector: str | None,
        field_selector: str | None,
        options: dict[str, Any] | None,
    ) -> Obj:
        with self.store.lock:
            lst = self.list(rt, ns, label_selector, field_selector)
            for obj in lst["items"]:
                self.delete(rt, ns_of(obj), name_of(obj), options)
            return lst


def resource_for(obj: Obj) -> ResourceType | None:
    for rt in BY_KEY.values():
        if rt.kind == obj.get("kind") and rt.api_version == obj.get("apiVersion"):
            return rt
    return None
