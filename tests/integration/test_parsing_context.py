"""A task start parses the DAG file with a parsing context: only the DAG being run is built.

Airflow's worker sets `_AIRFLOW_PARSING_CONTEXT_DAG_ID` (read by airflow.sdk.get_parsing_context)
before it re-parses the DAG file for a task; the dag-processor parses without it. Spec reads are
counted through the factory's `load_spec`, so "only that DAG" means only that file was read too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {"deploy_demo-api", "deploy_user-api", "deploy_payment-service", "deploy_recommendation-engine"}
CONTEXT_VAR = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the spec files the factory reads, in order."""
    from deploy_dag import factory

    read: list[str] = []
    real = factory.load_spec

    def counting(path, today=None):
        read.append(Path(path).name)
        return real(path, today=today)

    monkeypatch.setattr(factory, "load_spec", counting)
    return read


@pytest.fixture
def dags_copy(tmp_path: Path) -> Path:
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    return dags


def _bag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def _spec(service: str, description: str) -> str:
    return f"service: {service}\nimage: registry.example/{service}\ndescription: {description}\n"


def test_context_builds_only_the_deploy_dag_being_run(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str]
) -> None:
    from airflow.sdk import get_parsing_context

    monkeypatch.setenv(CONTEXT_VAR, "deploy_demo-api")
    assert get_parsing_context().dag_id == "deploy_demo-api"  # the variable the worker sets
    bag = _bag(REPO / "dags")
    assert bag.import_errors == {}
    assert bag.dag_ids == ["deploy_demo-api"]
    assert loads == ["demo-api.yaml"]
    assert "version" in bag.get_dag("deploy_demo-api").params


def test_context_builds_only_the_followup_dag_being_run_and_reads_no_spec(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str]
) -> None:
    from deploy_dag.followup import FOLLOW_UP_DAG_ID

    monkeypatch.setenv(CONTEXT_VAR, FOLLOW_UP_DAG_ID)
    bag = _bag(REPO / "dags")
    assert bag.import_errors == {}
    assert bag.dag_ids == [FOLLOW_UP_DAG_ID]
    assert loads == []  # one follow-up DAG for every service: nothing in it depends on a spec file


def test_task_start_ignores_other_broken_files_and_the_full_parse_still_reports_them(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str], dags_copy: Path
) -> None:
    (dags_copy / "services" / "broken-svc.yaml").write_text(_spec("broken-svc", "x") + "strategy: yolo\n")

    monkeypatch.setenv(CONTEXT_VAR, "deploy_payment-service")
    bag = _bag(dags_copy)
    assert bag.dag_ids == ["deploy_payment-service"]
    assert bag.import_errors == {}, "a task of a valid service must not fail for another file"
    assert loads == ["payment-service.yaml"]

    loads.clear()
    monkeypatch.delenv(CONTEXT_VAR)
    bag = _bag(dags_copy)
    assert EXAMPLES <= set(bag.dag_ids)
    assert "airlock_follow_up" in bag.dag_ids
    assert not [d for d in bag.dag_ids if d.startswith("followup_")], "one follow-up DAG, not one per service"
    assert "deploy_broken-svc" not in bag.dag_ids
    assert len(bag.import_errors) == 1
    message = next(iter(bag.import_errors.values()))
    assert "1 service spec file(s) are invalid" in message and "broken-svc.yaml" in message
    assert sorted(loads) == sorted(p.name for p in (dags_copy / "services").glob("*.y*ml"))


def test_a_file_not_named_after_its_service_falls_back_to_reading_all(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str], dags_copy: Path
) -> None:
    (dags_copy / "services" / "legacy-name.yml").write_text(_spec("renamed-svc", "renamed"))
    # a file named after a service that defines another one is no owner of the first
    (dags_copy / "services" / "ghost.yaml").write_text(_spec("not-ghost", "misnamed"))

    every_file = sorted(p.name for p in (dags_copy / "services").glob("*.y*ml"))

    monkeypatch.setenv(CONTEXT_VAR, "deploy_renamed-svc")
    bag = _bag(dags_copy)
    assert bag.import_errors == {}
    assert "legacy-name.yml" in bag.get_dag("deploy_renamed-svc").doc_md
    assert sorted(loads) == every_file  # no renamed-svc.y(a)ml: the full parse is the fallback

    loads.clear()
    monkeypatch.setenv(CONTEXT_VAR, "deploy_ghost")
    bag = _bag(dags_copy)
    assert "deploy_ghost" not in bag.dag_ids  # as in the full parse: no file defines service ghost
    assert "spec file: `ghost.yaml`" in bag.get_dag("deploy_not-ghost").doc_md
    assert loads[0] == "ghost.yaml" and sorted(loads[1:]) == every_file  # tried, no owner, full parse


def test_a_service_defined_twice_is_built_from_the_same_file_by_task_start_and_full_parse(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str], dags_copy: Path
) -> None:
    """The file named after the service owns it: `aaa.yaml` sorts first but must not win the full parse,
    or a task start (which reads only dup-svc.yaml) would run a different DAG than the serialized one."""
    services = dags_copy / "services"
    (services / "aaa.yaml").write_text(_spec("dup-svc", "from aaa"))
    (services / "dup-svc.yaml").write_text(_spec("dup-svc", "from dup-svc.yaml"))
    (services / "dup-svc.yml").write_text(_spec("dup-svc", "from dup-svc.yml"))

    bag = _bag(dags_copy)
    full = bag.get_dag("deploy_dup-svc")
    assert "spec file: `dup-svc.yaml`" in full.doc_md
    message = next(iter(bag.import_errors.values()))
    assert (
        f"{services / 'aaa.yaml'}: service 'dup-svc' is already defined in {services / 'dup-svc.yaml'}"
        in (message)
    )
    assert f"{services / 'dup-svc.yml'}: service 'dup-svc' is already defined in" in message

    loads.clear()
    monkeypatch.setenv(CONTEXT_VAR, "deploy_dup-svc")
    bag = _bag(dags_copy)
    assert bag.dag_ids == ["deploy_dup-svc"]
    assert "spec file: `dup-svc.yaml`" in bag.get_dag("deploy_dup-svc").doc_md
    assert loads == ["dup-svc.yaml"]


def test_a_broken_owner_file_makes_the_task_start_agree_with_the_full_parse(
    airflow_db, monkeypatch: pytest.MonkeyPatch, loads: list[str], dags_copy: Path
) -> None:
    services = dags_copy / "services"
    (services / "aaa.yaml").write_text(_spec("dup-svc", "from aaa"))
    (services / "dup-svc.yaml").write_text(_spec("dup-svc", "broken") + "strategy: yolo\n")

    bag = _bag(dags_copy)
    assert "spec file: `aaa.yaml`" in bag.get_dag("deploy_dup-svc").doc_md
    assert "dup-svc.yaml" in next(iter(bag.import_errors.values()))

    loads.clear()
    monkeypatch.setenv(CONTEXT_VAR, "deploy_dup-svc")
    bag = _bag(dags_copy)
    assert "spec file: `aaa.yaml`" in bag.get_dag("deploy_dup-svc").doc_md
    assert loads.count("dup-svc.yaml") == 2 and "aaa.yaml" in loads  # tried, failed, full parse


def test_a_context_that_names_no_service_of_this_file_builds_everything(
    airflow_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploy_dag.factory import build_dags

    for dag_id in ("some_other_dag", "deploy_../services/demo-api", "deploy_", "followup_demo-api"):
        assert EXAMPLES <= set(build_dags(REPO / "dags" / "services", dag_id=dag_id))
