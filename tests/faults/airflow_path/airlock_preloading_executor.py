"""The fault matrix's executor: Airflow's LocalExecutor, with Airlock's DAG library imported once in the
scheduler before it forks its workers.

LocalExecutor forks its worker processes from the scheduler, and each worker forks a process per task
that parses the DAG file. Without a preload every task start imports the DAG factory, the operators
and the Kubernetes client again: measured here, building one service's DAG took 4.4 s cold and 0.13 s
with the library already imported (on a 2-core machine at load ~20). With ~20 task starts per run and
~23 runs at once, that import was most of the matrix's CPU. This is the LocalExecutor counterpart of
demo/scaleout_celery.py (the Celery workers' preload); Airflow has no setting for it, so the matrix
names this class as the executor (`AIRFLOW__CORE__EXECUTOR`) and puts this folder on PYTHONPATH.

The imports change no behaviour: a task's process would import the same modules itself.
"""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

# the DAG factory (the DAG file's only import) and what the operators import when they run; plugins/
# is on sys.path in every Airflow process (airflow.settings puts it there)
PRELOAD = (
    "deploy_dag.factory",
    "airflow.providers.cncf.kubernetes.hooks.kubernetes",
    "airflow.providers.slack.hooks.slack_webhook",
    "kubernetes.client",
)


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor that imports `PRELOAD` before its workers are forked (they inherit the modules)."""

    def start(self) -> None:
        for name in PRELOAD:
            importlib.import_module(name)
        log.info("Preloaded for the task processes: %s", ", ".join(PRELOAD))
        super().start()
