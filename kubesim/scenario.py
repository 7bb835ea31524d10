"""The scenario file: how simulated images behave and how much traffic Services get."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

import yaml

DEFAULT_LATENCY = {"p50": 20.0, "p95": 50.0, "p99": 80.0}


@dataclass(frozen=True)
class ImageProfile:
    fail: str | None = None  # None, "ImagePullBackOff" or "CrashLoopBackOff"
    ready_after_seconds: float = 0.2
    error_rate: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LATENCY))
    log_lines: tuple[str, ...] = ()
    log_interval_seconds: float = 1.0
    complete_after_seconds: float = 1.0  # for pods that run to completion (Jobs)
    exit_code: int = 0
    crash_after_seconds: float = 2.0  # CrashLoopBackOff: how long each attempt runs
    cpu_millicores: float = 5.0  # reported by metrics.k8s.io
    memory_mib: float = 32.0

    def latency_params(self) -> tuple[float, float]:
        """(mu, sigma) of a lognormal (in seconds) fitted to p50/p95/p99 by least squares."""
        p50 = max(float(self.latency_ms.get("p50", 20.0)), 0.01) / 1000.0
        p95 = max(float(self.latency_ms.get("p95", p50 * 2500.0)), 0.01) / 1000.0
        p99 = max(float(self.latency_ms.get("p99", p95 * 1300.0)), 0.01) / 1000.0
        mu = math.log(p50)
        z95, z99 = 1.6449, 2.3263
        a, b = math.log(p95) - mu, math.log(p99) - mu
        sigma = max((z95 * a + z99 * b) / (z95 * z95 + z99 * z99), 1e-3)
        return mu, sigma


_PROFILE_FIELDS = set(ImageProfile.__dataclass_fields__)


def _profile(raw: dict[str, Any] | None) -> ImageProfile:
    raw = dict(raw or {})
    unknown = set(raw) - _PROFILE_FIELDS
    if unknown:
        raise ValueError(f"unknown image profile fields: {sorted(unknown)}")
    if raw.get("fail") not in (None, "ImagePullBackOff", "CrashLoopBackOff", "ErrImagePull"):
        raise ValueError(f"unsupported fail mode: {raw['fail']!r}")
    if "latency_ms" in raw:
        lat = dict(DEFAULT_LATENCY)
        lat.update({k: float(v) for k, v in (raw["latency_ms"] or {}).items()})
        if "p95" not in (raw["latency_ms"] or {}):
            lat["p95"] = lat["p50"] * 2.5
        if "p99" not in (raw["latency_ms"] or {}):
            lat["p99"] = lat["p95"] * 1.3
        raw["latency_ms"] = lat
    if "log_lines" in raw:
        raw["log_lines"] = tuple(str(x) for x in raw["log_lines"] or [])
    return ImageProfile(**raw)


@dataclass
class NodeSpec:
    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    cpu_usage: float = 0.2  # ratio of capacity, reported by metrics.k8s.io
    memory_usage: float = 0.3


@dataclass
class Scenario:
    seed: int | None = None
    images: list[tuple[str, ImageProfile]] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # "ns/name" -> {rps: ...}
    namespaces: list[str] = field(default_factory=list)
    nodes: list[NodeSpec] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)

    def profile_for(self, image: str) -> ImageProfile:
        for pattern, prof in self.images:
            if pattern == image:
                return prof
        for pattern, prof in self.images:
            if fnmatch.fnmatchcase(image, pattern):
                return prof
        return DEFAULT_PROFILE

    def rps_for(self, namespace: str, name: str) -> float:
        return float((self.services.get(f"{namespace}/{name}") or {}).get("rps", 0.0))


DEFAULT_PROFILE = ImageProfile()


def _nodes(raw: Any) -> list[NodeSpec]:
    if raw is None:
        raw = 3
    if isinstance(raw, int):
        return [NodeSpec(name=f"kubesim-node-{i + 1}") for i in range(raw)]
    out = []
    for i, item in enumerate(raw):
        item = dict(item or {})
        item.setdefault("name", f"kubesim-node-{i + 1}")
        item["cpu"] = str(item.get("cpu", "4"))
        item["memory"] = str(item.get("memory", "16Gi"))
        out.append(NodeSpec(**item))
    return out


def parse_scenario(raw: dict[str, Any] | str | None) -> Scenario:
    """Build a Scenario from a dict or YAML/JSON text (JSON is YAML)."""
    if isinstance(raw, str):
        raw = yaml.safe_load(raw) or {}
    raw = dict(raw or {})
    unknown = set(raw) - {"seed", "images", "services", "namespaces", "nodes", "objects"}
    if unknown:
        raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
    images = [(str(k), _profile(v)) for k, v in (raw.get("images") or {}).items()]
    services = {str(k): dict(v or {}) for k, v in (raw.get("services") or {}).items()}
    return Scenario(
        seed=raw.get("seed"),
        images=images,
        services=services,
        namespaces=[str(n) for n in raw.get("namespaces") or []],
        nodes=_nodes(raw.get("nodes")),
        objects=list(raw.get("objects") or []),
    )


def load_scenario_file(path: str) -> Scenario:
    with open(path, encoding="utf-8") as fh:
        return parse_scenario(fh.read())


def parse_quantity(q: Any) -> float:
    """Kubernetes resource.Quantity to a float (cpu in cores, memory in bytes)."""
    if q is None:
        return 0.0
    if isinstance(q, (int, float)):
        return float(q)
    s = str(q).strip()
    suffixes = {
        "Ki": 1024,
        "Mi": 1024**2,
        "Gi": 1024**3,
        "Ti": 1024**4,
        "Pi": 1024**5,
        "Ei": 1024**6,
        "n": 1e-9,
        "u": 1e-6,
        "m": 1e-3,
        "k": 1e3,
        "K": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
    }
    for suf in sorted(suffixes, key=len, reverse=True):
        if s.endswith(suf):
            try:
                return float(s[: -len(suf)]) * suffixes[suf]
            except ValueError:
                return 0.0
    try:
        return float(s)
    except ValueError:
        return 0.0
