"""Run a DAG defined in a test module under dag.test().

Airflow 3.3's dag.test() creates the run from the *serialized* DAG in the metadata DB, and only syncs
the dags-folder bundle; a DAG built inside a test is not there, so it is written to the DB first,
exactly as the dag-processor would (update_dag_parsing_results_in_db).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG


def register_dag(dag: DAG) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.flush()
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def run_dag(dag: DAG, **test_kwargs: Any) -> Any:
    """Serialize `dag` into the metadata DB, then dag.test(); returns the DagRun."""
    register_dag(dag)
    return dag.test(**test_kwargs)


def task_state(dag_run: Any, task_id: str) -> str:
    return str(dag_run.get_task_instance(task_id).state)


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            XComModel.get_many(
                key=key, run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id
            ).with_only_columns(XComModel.value)
        ).first()
    if row is None:
        raise AssertionError(f"task {task_id!r} pushed no XCom {key!r}")
    return XComModel.deserialize_value(row)
