"""Airflow local settings for an Airlock installation: Airlock's DAG library imported once per Airflow
process, and the Airflow backports Airlock needs applied in every process.

Airflow imports `airflow_local_settings` from `$AIRFLOW_HOME/config`: demo/stack.py (the demo, the fault
matrix, the scale-out stack) copies this file there, and docker-compose.yaml mounts this directory there,
so every installation the repository starts runs it. Airflow imports it when each of its processes starts (~2-4 s of imports once per process). The LocalExecutor forks its workers from the scheduler, and each
worker forks a process per task, which parses the DAG file; imported here, the DAG factory, the operators
and the core are inherited by every task process, and a task start only builds its own DAG instead of
importing them all again (seconds of CPU per task on a busy machine, ~25 task starts per deployment,
each holding a worker slot). The same as the Celery workers' preload (demo/scaleout_celery.py); do the same
in your installation (a file of this name in `$AIRFLOW_HOME/config`).

Code changes under plugins/ then need a restart of the Airflow processes to reach the tasks, as with any
preloaded library. A library that fails to import is only logged here: the scheduler must not die of it;
the DAG file's own import reports the error where users look for it.
"""

from __future__ import annotations

import logging

# nothing here is a cluster policy or a setting: Airflow copies every public name of this module into
# airflow.settings unless __all__ says which
__all__: list[str] = []


# The DAG library, then the clients its tasks import only when they run (operators and triggers import
# them lazily so that a process without this preload parses the DAG file quickly): the kubernetes clients
# behind the cncf provider's hooks, the http provider behind Prometheus/app checks.
PRELOAD = (
    "deploy_dag.factory",
    "airflow.providers.cncf.kubernetes.hooks.kubernetes",
    "hooks.http_services",
    "hooks.prometheus",
)


def _preload_airlock() -> None:
    import importlib

    for module in PRELOAD:  # plugins/ is on sys.path in every Airflow process
        try:
            importlib.import_module(module)
        except Exception:  # a broken library is the DAG file's import error, not a crashed scheduler
            logging.getLogger(__name__).warning("Could not preload %s", module, exc_info=True)


def _backport_airflow_fixes() -> None:
    """Open Airflow bugs Airlock's features run into, fixed in this process (deploy_dag.airflow_backports):
    without it Clear (a retry, docs/retry.md) of a deploy run with the overdue deadline alert answers 500."""
    try:
        from deploy_dag.airflow_backports import apply

        apply()
    except Exception:
        logging.getLogger(__name__).warning("Could not apply Airlock's Airflow backports", exc_info=True)


_preload_airlock()
_backport_airflow_fixes()
