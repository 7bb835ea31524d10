"""Server-side printing (meta.k8s.io/v1 Table) so `kubectl get` shows the usual columns.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; ages are rendered with the
simulated clock, like a real apiserver renders them with its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.clock import parse_time
from kubesim.objects import Obj, get_condition
from kubesim.selectors import selector_to_string

Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in accept


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    return f"{h // (24 * 365)}y"


def _age(obj: Obj, now: float) -> str:
    ts = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if ts is None else human_duration(now - ts)


def _pod_row(p: Obj, now: float) -> list[Any]:
    st = p.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len((p.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    reason = st.get("reason") or st.get("phase") or "Unknown"
    restarts, last_restart = 0, None
    for c in reversed(cs):
        restarts += int(c.get("restartCount", 0))
        term = (c.get("lastState") or {}).get("terminated")
        if term:
            t = parse_time(term.get("finishedAt"))
            last_restart = max(last_restart or 0, t or 0)
        state = c.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            reason = state["terminated"].get("reason") or f"ExitCode:{state['terminated'].get('exitCode')}"
    if not (p.get("spec") or {}).get("nodeName") and get_condition(p, "PodScheduled"):
        reason = "Pending"
    if (p.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    restart_text = str(restarts)
    if restarts and last_restart:
        restart_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return [
        p["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restart_text,
        _age(p, now),
        st.get("podIP") or "<none>",
        (p.get("spec") or {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _containers(template: dict[str, Any]) -> tuple[str, str]:
    cs = (template.get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deploy_row(d: Obj, now: float) -> list[Any]:
    st, spec = d.get("status") or {}, d.get("spec") or {}
    names, images = _containers(spec.get("template") or {})
    return [
        d["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        _age(d, now),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _rs_row(r: Obj, now: float) -> list[Any]:
    st, spec = r.get("status") or {}, r.get("spec") or {}
    names, images = _containers(spec.get("template") or {})
    return [
        r["metadata"]["name"],
        spec.get("replicas", 0),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        _age(r, now),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _svc_row(s: Obj, now: float) -> list[Any]:
    spec = s.get("spec") or {}
    ports = (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    )
    sel = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [
        s["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports,
        _age(s, now),
        sel,
    ]


def _job_row(j: Obj, now: float) -> list[Any]:
    st, spec = j.get("status") or {}, j.get("spec") or {}
    status = "Running"
    for c in st.get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            status = c["type"]
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    duration = human_duration((end or now) - start) if start else ""
    return [
        j["metadata"]["name"],
        status,
        f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        _age(j, now),
    ]


def _node_row(n: Obj, now: float) -> list[Any]:
    ready = get_condition(n, "Ready")
    info = (n.get("status") or {}).get("nodeInfo") or {}
    return [
        n["metadata"]["name"],
        "Ready" if ready and ready.get("status") == "True" else "NotReady",
        "<none>",
        _age(n, now),
        info.get("kubeletVersion", ""),
    ]


def _ns_row(n: Obj, now: float) -> list[Any]:
    return [n["metadata"]["name"], (n.get("status") or {}).get("phase", "Active"), _age(n, now)]


def _ep_row(e: Obj, now: float) -> list[Any]:
    addrs = []
    for s in e.get("subsets") or []:
        for a in s.get("addresses") or []:
            for p in s.get("ports") or [{}]:
                addrs.append(f"{a['ip']}:{p.get('port', '')}".rstrip(":"))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [e["metadata"]["name"], text or "<none>", _age(e, now)]


def _event_row(e: Obj, now: float) -> list[Any]:
    last = parse_time(e.get("lastTimestamp")) or parse_time(e.get("eventTime"))
    inv = e.get("involvedObject") or {}
    return [
        human_duration(now - last) if last else "<unknown>",
        e.get("type", ""),
        e.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        e.get("message", ""),
    ]


def _cm_row(c: Obj, now: float) -> list[Any]:
    return [c["metadata"]["name"], len(c.get("data") or {}) + len(c.get("binaryData") or {}), _age(c, now)]


def _default_row(o: Obj, now: float) -> list[Any]:
    return [o["metadata"]["name"], _age(o, now)]


_S, _I = "string", "integer"
PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, float], list[Any]]]] = {
    "Pod": (
        [
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Status", _S, 0),
            ("Restarts", _S, 0),
            ("Age", _S, 0),
            ("IP", _S, 1),
            ("Node", _S, 1),
            ("Nominated Node", _S, 1),
            ("Readiness Gates", _S, 1),
        ],
        _pod_row,
    ),
    "Deployment": (
        [
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Up-to-date", _I, 0),
            ("Available", _I, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ],
        _deploy_row,
    ),
    "ReplicaSet": (
        [
            ("Name", _S, 0),
            ("Desired", _I, 0),
            ("Current", _I, 0),
            ("Ready", _I, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ],
        _rs_row,
    ),
    "Service": (
        [
            ("Name", _S, 0),
            ("Type", _S, 0),
            ("Cluster-IP", _S, 0),
            ("External-IP", _S, 0),
            ("Port(s)", _S, 0),
            ("Age", _S, 0),
            ("Selector", _S, 1),
        ],
        _svc_row,
    ),
    "Job": (
        [("Name", _S, 0), ("Status", _S, 0), ("Completions", _S, 0), ("Duration", _S, 0), ("Age", _S, 0)],
        _job_row,
    ),
    "Node": (
        [("Name", _S, 0), ("Status", _S, 0), ("Roles", _S, 0), ("Age", _S, 0), ("Version", _S, 0)],
        _node_row,
    ),
    "Namespace": ([("Name", _S, 0), ("Status", _S, 0), ("Age", _S, 0)], _ns_row),
    "Endpoints": ([("Name", _S, 0), ("Endpoints", _S, 0), ("Age", _S, 0)], _ep_row),
    "Event": (
        [("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0), ("Object", _S, 0), ("Message", _S, 0)],
        _event_row,
    ),
    "ConfigMap": ([("Name", _S, 0), ("Data", _I, 0), ("Age", _S, 0)], _cm_row),
}
_DEFAULT: tuple[list[Column], Callable[[Obj, float], list[Any]]] = (
    [("Name", _S, 0), ("Age", _S, 0)],
    _default_row,
)


def _partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def to_table(
    kind: str,
    items: list[Obj],
    now: float,
    resource_version: str | None = None,
    include_object: str = "Metadata",
    with_columns: bool = True,
) -> Obj:
    columns, row = PRINTERS.get(kind, _DEFAULT)
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "rows": []}
    if resource_version:
        table["metadata"]["resourceVersion"] = resource_version
    if with_columns:
        table["columnDefinitions"] = [
            {"name": n, "type": t, "format": "name" if n == "Name" else "", "description": "", "priority": p}
            for n, t, p in columns
        ]
    for obj in items:
        r: Obj = {"cells": row(obj, now)}
        if include_object == "Object":
            r["object"] = obj
        elif include_object != "None":
            r["object"] = _partial(obj)
        table["rows"].append(r)
    return table
