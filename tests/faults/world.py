"""The fault matrix's world: one service per scenario, each in a namespace of its own.

Every scenario deploys its own service (`deploy_<key>`) into its own production namespace, so many
scenarios run at once in one Airflow and every fault is scoped to its scenario by path (kubesim
faults match `/namespaces/<ns>/...`) or by connection (each scenario's Prometheus, Alertmanager and
Slack connections are its own, so one scenario's Prometheus can be down while the others' is up).

This module writes the files: the kubesim scenario (images, traffic, the v1 Deployment and Service
of every scenario), the DAGs folder (a copy of dags/deploy_services.py next to one spec per
scenario), and the Airflow connections.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example"
OLD, NEW, BAD, SLOW = "v1", "v2", "v3", "v4"
NEXT = "v5"  # healthy and quick to start like v2 (the catch-all profile): f25's planned run after a v2 hotfix
REPLICAS = 4
RPS = 14.0

# v2 healthy; v3 answers ~30 % errors (the judge fails it at once); v4 healthy but slow to start, so
# a rollout wait outlasts the operator's 20 s in-worker watch and defers to the triggerer
IMAGE_PROFILES: dict[str, dict[str, Any]] = {
    f"{REGISTRY}/*:{BAD}": {
        "ready_after_seconds": 1,
        "error_rate": 0.3,
        "latency_ms": {"p50": 30, "p95": 80, "p99": 120},
        "log_lines": ["GET /api/v1/items 200", "GET /health 200"],
    },
    f"{REGISTRY}/*:{SLOW}": {
        "ready_after_seconds": 32,
        "error_rate": 0.002,
        "latency_ms": {"p50": 30, "p95": 80, "p99": 120},
        "log_lines": ["GET /api/v1/items 200", "GET /health 200"],
    },
    f"{REGISTRY}/*": {
        "ready_after_seconds": 1,
        "error_rate": 0.002,
        "latency_ms": {"p50": 30, "p95": 80, "p99": 120},
        "log_lines": ["GET /api/v1/items 200", "GET /health 200"],
    },
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def service_spec(
    service: str,
    namespace: str,
    *,
    description: str,
    prometheus_conn: str,
    alertmanager_conn: str,
    slack_conn: str,
    override: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A lean spec: no staging (fewer tasks per run), one canary step at 50 %, short observations."""
    spec: dict[str, Any] = {
        "service": service,
        "description": description,
        "owners": ["#fault-matrix"],
        "image": f"{REGISTRY}/{service}",
        "version_pattern": r"^v\d+$",
        "kubernetes": {
            "connection": "kubernetes_default",
            "staging": None,
            "production": {"namespace": namespace},
            "deployment": service,
            "container": "app",
            "service": service,
        },
        "strategy": {
            "allowed": ["canary"],
            "default": "canary",
            "canary": {"steps": [50, 100], "step_duration": "20s"},
            "blue_green": {"keep_old_for": "5s", "post_switch_duration": "8s", "pre_switch_checks": []},
            "rolling": {"progress_deadline": "120s"},
            "rollout_timeout": "120s",
        },
        "gates": {
            "ci": None,
            "incidents": {
                "connection": alertmanager_conn,
                "matchers": ['severity="critical"', f'service="{service}"'],
            },
            "backups": None,
            "cluster": None,
            "registry": None,
            "staging_healthy": False,
        },
        "metrics": {
            "connection": prometheus_conn,
            "interval": "4s",
            "validation_window": "8s",
            "thresholds": {
                "max_error_rate": 0.05,
                "max_error_rate_increase": 0.05,
                # The matrix is about faults, not the latency judge: a healthy version here must not fail a
                # gate by chance. At 1.5 the p95 tail test fails ~1 % of healthy gates by design (its
                # alpha; airlock/analysis/tail.py), and the matrix runs ~100 healthy gates at once: CI of
                # 9b23d57 rolled back f19's healthy v2 on "13 of 92 above 75 ms". v3 fails on errors.
                "max_latency_ratio": 3.0,
                "min_requests": 30,
            },
            "on_inconclusive": "rollback",
            "max_extension": "0s",
        },
        "endpoints": {
            "connection": "airlock_app_http",
            "production": f"/_sim/apps/{namespace}/{service}",
            "preview": f"/_sim/apps/{namespace}/{service}-preview",
        },
        "health": {"path": "/health", "retries": 5, "retry_delay": "1s"},
        "smoke": [],
        "logs": {"error_patterns": [r"(?i)\berror\b", "Exception"], "max_new_signatures": 0},
        "windows": {"timezone": "UTC", "off_peak": []},
        "notify": {"slack_connection": slack_conn, "follow_up_after": "24h"},
    }
    return deep_merge(spec, override or {})


def _objects(service: str, namespace: str) -> list[dict[str, Any]]:
    labels = {"app": service}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": f"{REGISTRY}/{service}:{OLD}",
                                "ports": [{"containerPort": 8080}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ]


def kubesim_scenario(services: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """(service, namespace) pairs -> a kubesim scenario with v1 running everywhere."""
    pairs = list(services)
    return {
        "seed": 13,
        "nodes": 3,
        "namespaces": [ns for _, ns in pairs],
        "images": IMAGE_PROFILES,
        "services": {f"{ns}/{svc}": {"rps": RPS} for svc, ns in pairs},
        "objects": [obj for svc, ns in pairs for obj in _objects(svc, ns)],
    }


def write_world(
    root: Path, specs: Mapping[str, dict[str, Any]], scenario: dict[str, Any]
) -> tuple[Path, Path]:
    """Write the DAGs folder (the real DAG factory file + one spec per scenario) and the kubesim
    scenario; returns (dags folder, scenario file)."""
    dags = root / "dags"
    services = dags / "services"
    if dags.exists():
        shutil.rmtree(dags)
    services.mkdir(parents=True)
    shutil.copy(REPO / "dags" / "deploy_services.py", dags / "deploy_services.py")
    for service, spec in specs.items():
        (services / f"{service}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    scenario_file = root / "kubesim-scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return dags, scenario_file


def http_conn(url: str) -> str:
    scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    return json.dumps({"conn_type": "http", "host": host, "port": int(port), "schema": scheme})
