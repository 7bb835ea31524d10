"""A kubesim per test, reached over real HTTP by the official client (and kubectl)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from airlock.kube.api import Kube
from airlock.spec import parse_spec
from kubesim.server import serve, shutdown
from kubesim.world import World

NS = "production"
IMG = "reg.example/web"


def deployment(
    name: str = "web",
    replicas: int = 3,
    image: str = f"{IMG}:1",
    labels: dict[str, str] | None = None,
    deadline: int = 600,
) -> dict[str, Any]:
    labels = labels or {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 8080}]},
                        {"name": "proxy", "image": "envoy:1.30"},
                    ]
                },
            },
        },
    }


def service(selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"selector": selector or {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


SCENARIO: dict[str, Any] = {
    "namespaces": [NS],
    "images": {
        f"{IMG}:bad-pull": {"fail": "ImagePullBackOff"},
        f"{IMG}:crash": {
            "fail": "CrashLoopBackOff",
            "crash_after_seconds": 0.8,
            "log_interval_seconds": 0.1,
            "log_lines": ["starting web", "FATAL: cannot connect to database"],
        },
        f"{IMG}:slow*": {"ready_after_seconds": 2.0},
        f"{IMG}:migrate-fail": {
            "exit_code": 3,
            "complete_after_seconds": 0.3,
            "log_lines": ["migrating", "ERROR: column exists"],
        },
        "*": {"ready_after_seconds": 0.2, "complete_after_seconds": 0.3, "log_lines": ["hello from the sim"]},
    },
    "objects": [deployment(), service()],
}

SPEC: dict[str, Any] = {
    "service": "web",
    "image": IMG,
    "kubernetes": {"deployment": "web", "container": "app", "service": "web", "staging": None},
    "strategy": {
        "rolling": {"progress_deadline": "4s"},
        "rollout_timeout": "40s",
        "blue_green": {"keep_old_for": "1s"},
    },
    "migration": {"command": ["migrate", "up"], "reversible": True, "timeout": "30s"},
}


class Sim:
    def __init__(self, world: World, url: str, tmp: Path) -> None:
        self.world = world
        self.url = url
        self.kubeconfig = tmp / "sim.kubeconfig"
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "sim",
                    "clusters": [{"name": "sim", "cluster": {"server": url}}],
                    "users": [{"name": "sim", "user": {"token": "sim"}}],
                    "contexts": [
                        {"name": "sim", "context": {"cluster": "sim", "user": "sim", "namespace": NS}}
                    ],
                }
            )
        )
        self._clients: list[Any] = []

    def api_client(self) -> Any:
        api = k8s_config.new_client_from_config(config_file=str(self.kubeconfig))
        self._clients.append(api)
        return api

    def kube(self, dry_run: bool = False) -> Kube:
        return Kube(self.api_client(), dry_run=dry_run)

    def writes(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.world.audit.entries()
            if e["method"] in ("POST", "PUT", "PATCH", "DELETE") and not e["path"].startswith("/_sim")
        ]

    def close(self) -> None:
        for api in self._clients:
            api.close()


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Any]:
    started: list[tuple[Any, Any, Sim]] = []

    def make(scenario: dict[str, Any] | None = None) -> Sim:
        world = World(copy.deepcopy(scenario or SCENARIO))
        server, thread = serve(world)
        sim = Sim(world, server.url, tmp_path)
        started.append((server, thread, sim))
        return sim

    yield make
    for server, thread, sim in started:
        sim.close()
        shutdown(server, thread)


@pytest.fixture
def sim(make_sim: Any) -> Sim:
    return make_sim()


@pytest.fixture
def spec() -> Any:
    return parse_spec(copy.deepcopy(SPEC))


def k8s_apps(sim: Sim) -> k8s_client.AppsV1Api:
    return k8s_client.AppsV1Api(sim.api_client())
