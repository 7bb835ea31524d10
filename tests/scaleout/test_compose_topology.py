"""docker-compose.yaml describes the topology that `make scaleout` runs and tests as local processes."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from demo.scaleout_stack import SCHEDULERS, WORKERS
from demo.stack import REPO


def test_compose_runs_the_scaleout_topology() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    rendered = subprocess.run(
        [exe, "-f", "docker-compose.yaml", "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AIRFLOW_UID": "50000"},
    )
    services = yaml.safe_load(rendered.stdout)["services"]

    def replicas(name: str) -> int:
        return int((services[name].get("deploy") or {}).get("replicas", 1))

    assert replicas("airflow-scheduler") == len(SCHEDULERS)
    assert replicas("airflow-worker") == len(WORKERS)
    for single in ("postgres", "redis", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        assert replicas(single) == 1, single
    env = services["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which the image does not ship
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert services["airflow-worker"]["command"] in ("celery worker", ["celery", "worker"])
