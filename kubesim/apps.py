"""Simulated application endpoints: answer an HTTP request as a Service's (or one pod's) app would.

/_sim/apps/{namespace}/{service}/{path}      one Ready endpoint pod of the Service answers
/_sim/apps/{namespace}/pods/{pod}/{path}     that pod answers (e.g. a preview pod before it gets traffic)
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from kubesim.controllers.common import is_ready
from kubesim.controllers.endpoints import ready_endpoints
from kubesim.lifecycle import image_tag
from kubesim.objects import Obj, name_of

if TYPE_CHECKING:
    from kubesim.world import World

Response = tuple[int, dict[str, Any]]


def _answer(world: World, pod: Obj, path: str, body: bytes) -> tuple[int, dict[str, Any], float]:
    image = (pod["spec"].get("containers") or [{}])[0].get("image", "")
    prof = world.profile(image)
    version = image_tag(image)
    with world.traffic.lock:
        mu, sigma = prof.latency_params()
        latency = float(math.exp(mu + sigma * world.traffic.rng.standard_normal()))
        failed = bool(world.traffic.rng.random() < prof.error_rate)
    if path.rstrip("/") in ("/health", "/healthz"):
        return 200, {"status": "healthy", "version": version, "pod": name_of(pod)}, latency
    if failed:
        return (
            500,
            {
                "ok": False,
                "error": "simulated server error",
                "path": path,
                "version": version,
                "pod": name_of(pod),
            },
            latency,
        )
    out: dict[str, Any] = {"ok": True, "path": path, "version": version, "pod": name_of(pod)}
    if body:
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if isinstance(parsed, dict):
            out["echo"] = parsed
    return 200, out, latency


def handle_app(world: World, parts: list[str], body: bytes) -> Response:
    """parts: path segments after /_sim/apps."""
    if len(parts) < 2:
        return 404, {"error": "use /_sim/apps/{namespace}/{service}/{path}"}
    ns = parts[0]
    if parts[1] == "pods" and len(parts) >= 3:
        pod_name, rest = parts[2], "/" + "/".join(parts[3:])
        with world.store.lock:
            pod = world.store.get("/pods", ns, pod_name)
        if pod is None:
            return 404, {"error": f"pod {ns}/{pod_name} not found"}
        if not is_ready(pod):
            return 503, {"error": f"pod {ns}/{pod_name} is not ready"}
        code, payload, _lat = _answer(world, pod, rest, body)
        return code, payload
    svc_name, rest = parts[1], "/" + "/".join(parts[2:])
    with world.store.lock:
        world.traffic_checkpoint()
        svc = world.store.get("/services", ns, svc_name)
        pods = sorted(ready_endpoints(world.store, svc), key=name_of) if svc else []
    if svc is None:
        return 404, {"error": f"service {ns}/{svc_name} not found"}
    if not pods:
        return 503, {"error": f"no ready endpoints for service {ns}/{svc_name}"}
    with world.traffic.lock:
        pod = pods[int(world.traffic.rng.integers(len(pods)))]
    code, payload, latency = _answer(world, pod, rest, body)
    world.traffic.observe(ns, svc_name, pod, str(code), latency)
    return code, payload
