"""Celery configuration of the scale-out workers (`[celery] celery_config_options`): Airflow's defaults,
plus Airlock's DAG library imported once in each worker's main process.

A Celery worker forks a process for every task, and that process parses the DAG file. Airflow already
preloads its own expensive modules in the worker (the provider's `celery_import_modules` handler);
without the same for Airlock, every task start imports the DAG factory, the operators and the core
again - seconds of CPU per task, ~25 task starts per deployment. Imported here, it is inherited by
every forked task process and a task start only builds its one DAG.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

CELERY_CONFIG: dict[str, Any] = DEFAULT_CELERY_CONFIG


@import_modules.connect
def preload_airlock(*args: Any, **kwargs: Any) -> None:
    import deploy_dag.factory  # noqa: F401 - plugins/ is on sys.path in every Airflow process
