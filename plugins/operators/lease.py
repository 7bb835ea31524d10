"""The run's deploy-lock identity in Airflow terms: installation id + run id, and the lease a task fences on.

The core decides (airlock.kube.lock); this adapter reads the installation's configuration:
`AIRLOCK_INSTALLATION_ID` (environment), else Airflow config `[airlock] installation_id`
(`AIRFLOW__AIRLOCK__INSTALLATION_ID`), else an id derived from `[database] sql_alchemy_conn`, which every
process of one installation shares. The lease TTL is `AIRLOCK_LOCK_LEASE_SECONDS` (default 300).
"""

from __future__ import annotations

import os
from typing import Any

from airlock.kube.lock import INSTALLATION_ENV, LeaseRef, holder_identity, installation_id, lease_seconds
from airlock.spec import ServiceSpec

ACQUIRE_LOCK_TASK_ID = "acquire_lock"  # a DAG with this task fences its production writes on the lock


def _airflow_conf(section: str, key: str) -> str | None:
    try:
        from airflow.configuration import conf

        value = conf.get(section, key, fallback=None)
    except Exception:  # a worker without that section or without DB settings
        return None
    return str(value) if value else None


def current_installation_id() -> str:
    configured = os.environ.get(INSTALLATION_ENV) or _airflow_conf("airlock", "installation_id")
    return installation_id(configured, _airflow_conf("database", "sql_alchemy_conn"))


def run_holder(run_id: str) -> str:
    """This run's holder identity on the Lease: `<installation id>/<run id>`."""
    return holder_identity(current_installation_id(), run_id)


def lease_ref(spec: ServiceSpec, run_id: str) -> LeaseRef:
    """The production lease this run holds (what the fence and the triggers' renewal need)."""
    return LeaseRef(
        conn_id=spec.connection_for("production"),
        namespace=spec.environment("production").namespace,
        service=spec.service,
        holder=run_holder(run_id),
        ttl_seconds=lease_seconds(),
    )


def fenced_dag(task: Any) -> bool:
    """Whether the task's DAG takes the deploy lock (operators used outside a deploy DAG are not fenced)."""
    dag = getattr(task, "dag", None) if getattr(task, "has_dag", lambda: False)() else None
    return dag is not None and dag.has_task(ACQUIRE_LOCK_TASK_ID)
