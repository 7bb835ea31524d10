"""`dag.test()` (and `airflow dags test`) of a deploy DAG that carries the overdue deadline alert.

Airflow 3.3's dag.test() crashed at the end of a successful run of a DAG with a DeadlineAlert ("'dict'
object has no attribute 'hex'" from DagRun.update_state): AirlockDAG.test runs it without the alert.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DeadlineAlert, DeadlineReference
from airflow.sdk.definitions.deadline import AsyncCallback

from deploy_dag.dag_class import AirlockDAG
from notifiers.slack import DeploymentOverdueNotifier
from tests.fixtures.dag_runner import run_dag


def _dag_with_deadline() -> AirlockDAG:
    dag = AirlockDAG(
        dag_id="airlock_deadline_dag_test",
        schedule=None,
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(hours=1),
            callback=AsyncCallback(
                DeploymentOverdueNotifier,
                kwargs={"service": "svc", "slack_connection": None, "expected_s": 3600.0},
            ),
        ),
    )
    with dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    return dag


def test_a_successful_dag_test_of_a_dag_with_a_deadline_ends_success_and_keeps_the_alert(
    airflow_db: Path,
) -> None:
    dag = _dag_with_deadline()
    run = run_dag(dag)
    assert str(run.state) == "success"
    # the DAG object keeps its alert for the real scheduler
    assert dag.deadline is not None
