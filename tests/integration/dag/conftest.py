"""The `deploy_demo-api` DAG end to end under dag.test(): a kubesim world per test, one Prometheus and
one Alertmanager for the module, a Slack receiver per test.

Prometheus is shared: it scrapes a tiny relay (`MetricsRelay`) that forwards /metrics to whichever
kubesim the current test runs. Each test's kubesim gets its own seed, so its pods have new names and
no series of an earlier test is ever continued.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from airlock.spec import ServiceSpec, parse_spec
from deploy_dag.graph import build_deploy_dag
from kubesim.testing import Sim, run_kubesim
from tests.fixtures.alertmanager import alertmanager_server, find_alertmanager
from tests.fixtures.prometheus import find_prometheus, start_prometheus, wait_for_series
from tests.fixtures.slack_receiver import SlackReceiver

REPO = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO / "dags" / "services" / "demo-api.yaml"
IMAGE = "registry.example/demo-api"
NS = "production"

LATENCY = {"p50": 40, "p95": 120, "p99": 200}  # as demo/scenario.yaml; every version answers equally fast
# Image profiles: v2 healthy, v3 answers 8 % of requests with 5xx (the canary must be stopped), v4 cannot
# be pulled, v5 is healthy on /health but answers every other request with 500 (smoke and metrics fail).
IMAGES: dict[str, Any] = {
    f"{IMAGE}:v3*": {"ready_after_seconds": 0.5, "error_rate": 0.08, "latency_ms": LATENCY},
    f"{IMAGE}:v4*": {"fail": "ImagePullBackOff"},
    f"{IMAGE}:v5*": {"ready_after_seconds": 0.5, "error_rate": 1.0, "latency_ms": LATENCY},
    f"{IMAGE}:*": {
        "ready_after_seconds": 0.5,
        "error_rate": 0.002,
        "latency_ms": LATENCY,
        "log_lines": ["GET /api/v1/items 200", "GET /health 200"],
    },
}


def demo_spec_dict(**overrides: Any) -> dict[str, Any]:
    """dags/services/demo-api.yaml with durations short enough for a test (and `overrides` merged in)."""
    spec = yaml.safe_load(SPEC_FILE.read_text())
    spec["strategy"]["canary"] = {"steps": [25, 50, 100], "step_duration": "6s"}
    spec["strategy"]["blue_green"] = {"keep_old_for": "1s", "post_switch_duration": "4s"}
    spec["strategy"]["rolling"] = {"progress_deadline": "5s"}
    spec["strategy"]["rollout_timeout"] = "30s"
    spec["staging"] = {"soak": "4s"}
    spec["health"] = {"path": "/health", "retries": 3, "retry_delay": "1s"}
    spec["metrics"]["interval"] = "2s"
    spec["metrics"]["validation_window"] = "6s"
    # alpha 0.001: a healthy version fails by chance at most once in 1000 gates; 8 % errors still fail fast
    spec["metrics"]["thresholds"].update({"min_requests": 50, "alpha": 0.001})
    _merge(spec, overrides)
    return spec


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def demo_spec(**overrides: Any) -> ServiceSpec:
    return parse_spec(demo_spec_dict(**overrides))


def build_dag(spec: ServiceSpec | None = None) -> Any:
    return build_deploy_dag(spec or demo_spec(), source=SPEC_FILE)


def _deployment(namespace: str, replicas: int, version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo-api", "namespace": namespace, "labels": {"app": "demo-api"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "demo-api"}},
            "template": {
                "metadata": {"labels": {"app": "demo-api"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": f"{IMAGE}:{version}", "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def _service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "demo-api", "namespace": namespace, "labels": {"app": "demo-api"}},
        "spec": {"selector": {"app": "demo-api"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def scenario(seed: int) -> dict[str, Any]:
    """demo/scenario.yaml's world (v1 in staging and production) with more traffic, so gates decide fast."""
    return {
        "seed": seed,
        "namespaces": ["staging", NS],
        "nodes": 3,
        "images": copy.deepcopy(IMAGES),
        "services": {f"{NS}/demo-api": {"rps": 200}, "staging/demo-api": {"rps": 150}},
        "objects": [_deployment("staging", 2), _service("staging"), _deployment(NS, 6), _service(NS)],
    }


class MetricsRelay:
    """GET /metrics -> the current target's /metrics (empty when none): one Prometheus for many kubesims."""

    def __init__(self) -> None:
        self.target: str | None = None
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                body, status = b"", 200
                if relay.target:
                    try:
                        upstream = requests.get(relay.target, timeout=5)
                        body, status = upstream.content, upstream.status_code
                    except requests.RequestException:
                        status = 503
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Observability:
    prometheus: str
    alertmanager: Any
    relay: MetricsRelay


@pytest.fixture(scope="module")
def observability(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observability]:
    if find_prometheus() is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    if find_alertmanager() is None:
        pytest.skip("prometheus-alertmanager is not installed")
    relay = MetricsRelay()
    try:
        with (
            start_prometheus([relay.url], tmp_path_factory.mktemp("prom")) as prom,
            alertmanager_server() as am,
        ):
            yield Observability(prom, am, relay)
    finally:
        relay.stop()


_seeds = itertools.count(101)


@dataclass
class World:
    """One test's world: its kubesim and Slack receiver, and the module's Prometheus and Alertmanager."""

    sim: Sim
    slack: SlackReceiver
    prometheus: str
    alertmanager: Any
    seed: int

    def get(self, kind: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
        """The object as the API returns it (plain JSON), or None when it does not exist."""
        group = {"deployments": "apis/apps/v1", "leases": "apis/coordination.k8s.io/v1"}.get(kind, "api/v1")
        resp = requests.get(f"{self.sim.url}/{group}/namespaces/{namespace}/{kind}/{name}", timeout=10)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return dict(resp.json())

    def image(self, name: str = "demo-api", namespace: str = NS) -> str:
        dep = self.get("deployments", name, namespace)
        assert dep is not None, f"deployment {namespace}/{name} does not exist"
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def writes(self) -> list[dict[str, Any]]:
        """Kubernetes API writes (not kubesim's own /_sim endpoints) recorded by kubesim's audit log."""
        return [
            e
            for e in self.sim.audit()
            if e["method"] in ("POST", "PUT", "PATCH", "DELETE") and not str(e["path"]).startswith("/_sim")
        ]


@contextmanager
def start_world(obs: Observability, set_conn: Any) -> Generator[World, None, None]:
    """kubesim for one test, scraped through the relay, with every connection the DAG uses set."""
    seed = next(_seeds)
    slack = SlackReceiver()
    with run_kubesim(scenario(seed)) as sim:
        obs.relay.target = f"{sim.url}/metrics"
        set_conn(
            "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": sim.kubeconfig}}
        )
        set_conn("prometheus_default", {"conn_type": "http", "host": obs.prometheus})
        set_conn("alertmanager_default", {"conn_type": "http", "host": obs.alertmanager.url})
        set_conn("airlock_app_http", {"conn_type": "http", "host": sim.url})
        set_conn("slack_deployments", slack.connection())
        world = World(sim, slack, obs.prometheus, obs.alertmanager, seed)
        try:
            _wait_scraped(obs.prometheus, sim)
            sim.clear_audit()  # the scenario's own objects are not the DAG's writes
            yield world
        finally:
            obs.relay.target = None
            slack.stop()


def _wait_scraped(prometheus: str, sim: Sim) -> None:
    """Until Prometheus holds two scrapes of this kubesim's production pods (rate() needs two)."""
    pods = [
        p["metadata"]["name"]
        for p in requests.get(f"{sim.url}/api/v1/namespaces/{NS}/pods", timeout=10).json()["items"]
    ]
    assert pods, "the scenario's production pods exist"
    wait_for_series(
        prometheus,
        f'count_over_time(http_requests_total{{namespace="{NS}",pod="{pods[0]}"}}[1m]) >= 2',
        timeout=30,
    )


@pytest.fixture
def world(observability: Observability, airflow_db: Any, airflow_connections: Any) -> Iterator[World]:
    with start_world(observability, airflow_connections) as w:
        yield w


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)[:4000]
