"""The DAG factory: every example service parses, a broken spec is a clear import error, no I/O at parse."""

import shutil
import socket
from pathlib import Path

import pytest

from deploy_dag.graph import MAX_ACTIVE_RUNS

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
        # the Lease keeps deployments one at a time; more run slots let a hotfix pass a waiting run
        assert dag.max_active_runs == MAX_ACTIVE_RUNS > 1
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
    assert (
        "field 'strategy.allowed.1': value 'yolo': not allowed; allowed values: 'canary', 'blue_green' or 'rolling'"
        in message
    )
    assert "field 'strategy.canary.step_duraton'" in message and "unknown field" in message


def test_any_failure_in_one_file_is_its_own_error_and_every_other_service_loads(
    airflow_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: whatever goes wrong with one file (an exception that is not a SpecError included - the
    99999999999d step used to raise OverflowError and stop every deploy DAG), the others still load."""
    from datetime import UTC, datetime

    from deploy_dag import factory

    services = tmp_path / "services"
    services.mkdir()
    shutil.copy(REPO / "dags" / "services" / "demo-api.yaml", services / "demo-api.yaml")
    head = "image: registry.example/{0}\n"
    (services / "overflow.yaml").write_text(
        "service: overflow\n"
        + head.format("overflow")
        + "strategy:\n  canary: {step_duration: 99999999999d}\n"
    )
    (services / "bomb.yaml").write_text(
        "service: bomb\n"
        + head.format("bomb")
        + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\n"
    )
    (services / "dupe.yaml").write_text("service: dupe\n" + head.format("dupe") + "service: dupe2\n")
    (services / "build-fails.yaml").write_text("service: build-fails\n" + head.format("build-fails"))
    real_build = factory.build_deploy_dag

    def build(spec, source):
        if spec.service == "build-fails":
            raise KeyError("a bug while building the DAG")
        return real_build(spec, source=source)

    monkeypatch.setattr(factory, "build_deploy_dag", build)
    dags = factory.build_all(services, now=datetime(2026, 12, 2, tzinfo=UTC))

    assert {"deploy_demo-api", factory.INVALID_SPECS_DAG_ID} <= set(dags)
    assert not {"deploy_overflow", "deploy_bomb", "deploy_dupe", "deploy_build-fails"} & set(dags)
    errors = dags[factory.INVALID_SPECS_DAG_ID].airlock_errors
    assert errors.startswith("4 service spec file(s) are invalid"), errors
    assert f"{services / 'overflow.yaml'}: 1 invalid field(s)" in errors
    assert "field 'strategy.canary.step_duration': value '99999999999d'" in errors
    assert f"{services / 'bomb.yaml'}: not valid YAML: YAML aliases" in errors
    assert f"{services / 'dupe.yaml'}: not valid YAML: duplicate key 'service' at lines 1 and 3" in errors
    assert (
        f"{services / 'build-fails.yaml'}: could not be loaded: KeyError: 'a bug while building the DAG'"
        in errors
    )
