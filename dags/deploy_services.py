"""Airflow DAG factory: one `deploy_<service>` DAG per dags/services/<service>.yaml.

(The words "airflow" and "dag" in this file matter: Airflow's safe-mode discovery skips .py files
that contain neither.)

Parsing is cheap and offline: it reads YAML and builds tasks, no network or cluster call. An invalid
service file does not stop the others: its errors (file, field, value, what is allowed) surface as
this file's import error through a sentinel DAG, while every valid service still loads.
"""

from __future__ import annotations

from pathlib import Path

from deploy_dag.factory import build_all

SERVICES_DIR = Path(__file__).resolve().parent / "services"

globals().update(build_all(SERVICES_DIR))
