"""docker-compose.yaml validates (docker-compose 1.29 needs no engine for `config`) and has the stack."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXPECTED = {
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "prometheus",
    "prometheus-alertmanager",
    "k3s",
}


def _compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    return exe


def _rendered() -> dict:
    """docker-compose.yaml as docker-compose renders it (variables filled in, short syntax expanded)."""
    rendered = subprocess.run(
        [_compose(), "-f", "docker-compose.yaml", "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(rendered.stdout)


def test_compose_file_validates() -> None:
    result = subprocess.run(
        [_compose(), "-f", "docker-compose.yaml", "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_UID": "50000"},
    )
    assert result.returncode == 0, result.stderr


def test_compose_lists_the_stack() -> None:
    result = subprocess.run(
        [_compose(), "-f", "docker-compose.yaml", "config", "--services"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    services = set(result.stdout.split())
    assert EXPECTED <= services, f"missing: {EXPECTED - services}"


def test_airflow_services_share_image_mounts_and_connections() -> None:
    config = _rendered()
    images = {
        name: svc.get("image") for name, svc in config["services"].items() if name.startswith("airflow-")
    }
    assert set(images.values()) == {"airlock-airflow:3.3.2"}, images
    worker = config["services"]["airflow-worker"]
    mounts = {v["target"] if isinstance(v, dict) else v.split(":")[1] for v in worker["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/config", "/opt/airflow/logs"} <= mounts
    env = worker["environment"]
    for conn in ("KUBERNETES_DEFAULT", "PROMETHEUS_DEFAULT", "ALERTMANAGER_DEFAULT", "SLACK_DEPLOYMENTS"):
        assert f"AIRFLOW_CONN_{conn}" in env
    assert "FROM apache/airflow:3.3.2" in (REPO / "Dockerfile").read_text()
    assert config["services"]["k3s"]["privileged"] is True


def test_every_airflow_container_loads_the_local_settings_with_the_backports() -> None:
    """The containers' $AIRFLOW_HOME/config is the repository's config/, so the local settings the demo
    uses (the DAG library preload and the Clear backport a retry needs, docs/retry.md) reach them too."""
    config = _rendered()
    for name, svc in config["services"].items():
        if not name.startswith("airflow-"):
            continue
        sources = {
            (v["source"], v["target"]) if isinstance(v, dict) else tuple(v.split(":")[:2])
            for v in svc["volumes"]
        }
        assert (str(REPO / "config"), "/opt/airflow/config") in sources, (name, sources)
    settings = (REPO / "config" / "airflow_local_settings.py").read_text()
    assert "airflow_backports import apply" in settings
    assert '"deploy_dag.factory"' in settings
