"""kubesim serving payment-service with a stable track and a canary, scraped every second by a real
Prometheus (tests/fixtures/prometheus.py)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.fixtures.kubesim import make_container, make_deployment, make_service
from tests.fixtures.prometheus import find_prometheus, start_prometheus, wait_for_scrapes
from tests.integration.dag.conftest import observability, world  # noqa: F401 (the deploy DAG's world)

IMAGE = "registry.local/payment-service"
APP = "payment-service"


def _track(name: str, version: str, replicas: int, track: str) -> dict[str, Any]:
    return make_deployment(
        name,
        "production",
        replicas=replicas,
        labels={"app": APP, "track": track},
        containers=[make_container("app", f"{IMAGE}:{version}")],
    )


def canary_scenario(canary_error_rate: float, rps: float = 400) -> dict[str, Any]:
    """payment-service at `rps`: 9 stable pods (1.0.0, 0.4 % errors) and 1 canary pod (1.1.0)."""
    return {
        "seed": 7,
        "images": {
            f"{IMAGE}:1.1.0": {"error_rate": canary_error_rate},
            f"{IMAGE}:*": {"error_rate": 0.004},
        },
        "services": {f"production/{APP}": {"rps": rps}},
        "namespaces": ["production"],
        "objects": [
            make_service(APP, "production", selector={"app": APP}),
            _track(APP, "1.0.0", 9, "stable"),
            _track(f"{APP}-canary", "1.1.0", 1, "canary"),
        ],
    }


@pytest.fixture
def scraped_sim(tmp_path: Any) -> Generator[Callable[[dict[str, Any]], tuple[Any, str]], None, None]:
    """start(scenario) -> (kubesim Sim, URL of a Prometheus scraping it) for a world built from `scenario`."""
    if find_prometheus() is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    from kubesim.testing import run_kubesim

    with ExitStack() as stack:

        def start(scenario: dict[str, Any]) -> tuple[Any, str]:
            sim = stack.enter_context(run_kubesim(scenario))
            url = stack.enter_context(start_prometheus([sim.url + "/metrics"], tmp_path))
            # The pods here predate Prometheus (a real canary's pods are created when its step starts):
            # let Prometheus know every series before a gate counts "now minus step start".
            wait_for_scrapes(url, count=3)
            return sim, url

        yield start


@pytest.fixture
def scraped_kubesim(
    scraped_sim: Callable[[dict[str, Any]], tuple[Any, str]],
) -> Callable[[dict[str, Any]], str]:
    """start(scenario) -> URL of a Prometheus scraping a kubesim world built from `scenario`."""
    return lambda scenario: scraped_sim(scenario)[1]
