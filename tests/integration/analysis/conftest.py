"""kubesim serving a canary and its stable track, scraped every second by a real Prometheus.

The Prometheus launcher here is local to the analysis tests until tests/fixtures/prometheus.py lands;
it follows the Alertmanager fixture (temp config and storage, free port, ready check, clean stop).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.alertmanager import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
IMAGE = "registry.local/payment-service"


@contextmanager
def prometheus_server(targets: list[str], start_timeout: float = 20.0) -> Generator[str, None, None]:
    """A real Prometheus scraping `targets` (host:port) every second; yields its base URL."""
    workdir = Path(tempfile.mkdtemp(prefix="airlock-prometheus-"))
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: kubesim\n    static_configs: [{{targets: {targets!r}}}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready after {start_timeout}s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _deployment(name: str, version: str, replicas: int, track: str) -> dict[str, Any]:
    labels = {"app": "payment-service", "track": track}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "production"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": f"{IMAGE}:{version}"}]},
            },
        },
    }


def canary_scenario(canary_error_rate: float, rps: float = 400) -> dict[str, Any]:
    """payment-service at `rps`: 9 stable pods (1.0.0, 0.4 % errors) and 1 canary pod (1.1.0)."""
    return {
        "seed": 7,
        "images": {
            f"{IMAGE}:1.1.0": {"error_rate": canary_error_rate},
            f"{IMAGE}:*": {"error_rate": 0.004},
        },
        "services": {"production/payment-service": {"rps": rps}},
        "namespaces": ["production"],
        "objects": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "payment-service", "namespace": "production"},
                "spec": {"selector": {"app": "payment-service"}, "ports": [{"port": 80}]},
            },
            _deployment("payment-service", "1.0.0", 9, "stable"),
            _deployment("payment-service-canary", "1.1.0", 1, "canary"),
        ],
    }


@pytest.fixture
def scraped_kubesim() -> Iterator[Callable[[dict[str, Any]], str]]:
    """start(scenario) -> Prometheus URL scraping a kubesim world built from `scenario`."""
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    kubesim_server = pytest.importorskip("kubesim.server")
    kubesim_world = pytest.importorskip("kubesim.world")
    stack: list[Any] = []

    def start(scenario: dict[str, Any]) -> str:
        server, thread = kubesim_server.serve(kubesim_world.World(scenario))
        stack.append(lambda: kubesim_server.shutdown(server, thread))
        prom = prometheus_server([f"127.0.0.1:{server.server_address[1]}"])
        url = prom.__enter__()
        stack.append(lambda: prom.__exit__(None, None, None))
        return url

    yield start
    for close in reversed(stack):
        close()
