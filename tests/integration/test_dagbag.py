"""The DAG factory: every example service parses, a broken spec is a clear import error, no I/O at parse."""

import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {"deploy_demo-api", "deploy_user-api", "deploy_payment-service", "deploy_recommendation-engine"}


def _bag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))  # safe mode on, as the dag-processor runs it


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing must not touch the network (cluster, Prometheus, ...): any connect() fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"network call during DAG parsing: connect{args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_dags_folder_has_no_import_errors(airflow_db, no_network: None) -> None:
    bag = _bag(REPO / "dags")
    assert bag.import_errors == {}
    assert EXAMPLES <= set(bag.dag_ids)
    for dag_id in EXAMPLES:
        dag = bag.get_dag(dag_id)
        assert dag.max_active_runs == 1
        assert "version" in dag.params
        assert dag.task_dict["rollback"].trigger_rule == "one_failed"


def test_broken_spec_is_a_clear_import_error_and_others_still_load(airflow_db, tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / "services" / "broken-svc.yaml").write_text(
        "service: broken-svc\nimage: registry.example/broken\n"
        "strategy:\n  allowed: [canary, yolo]\n  canary: {steps: [10, 50], step_duraton: 5m}\n"
    )
    bag = _bag(dags)
    assert EXAMPLES <= set(bag.dag_ids), "a broken spec must not hide the valid services"
    assert "deploy_broken-svc" not in bag.dag_ids
    assert len(bag.import_errors) == 1
    message = next(iter(bag.import_errors.values()))
    assert "broken-svc.yaml" in message
    assert "field 'strategy.allowed.1': value 'yolo': not allowed; allowed values: 'canary', 'blue_green' or 'rolling'" in message
    assert "field 'strategy.canary.step_duraton'" in message and "unknown field" in message
