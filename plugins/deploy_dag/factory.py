"""Load every service spec in a folder and build its DAG; collect bad files instead of raising."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airlock.spec import SpecError, load_spec
from deploy_dag.followup import build_followup_dag
from deploy_dag.graph import build_deploy_dag

INVALID_SPECS_DAG_ID = "airlock_invalid_service_specs"


class InvalidServiceSpecs(DAG):
    """A DAG that can never be bagged: DagBag.validate() raises the collected spec errors.

    Airflow records the message as this file's import error (shown in the UI's import errors
    panel) while the valid services of the same file are still bagged - raising at module level
    would hide every service behind one broken file.
    """

    airlock_errors: str = ""

    def validate(self) -> None:
        raise SpecError(self.airlock_errors)


def build_all(services_dir: Path) -> dict[str, Any]:
    dags: dict[str, Any] = {}
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(services_dir.glob("*.y*ml")):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            errors.append(str(exc))
            continue
        if spec.dag_id in seen:
            errors.append(f"{path}: service {spec.service!r} is already defined in {seen[spec.dag_id]}")
            continue
        seen[spec.dag_id] = path
        dags[spec.dag_id] = build_deploy_dag(spec, source=path)
        followup = build_followup_dag(spec)
        dags[followup.dag_id] = followup
    if errors:
        sentinel = InvalidServiceSpecs(
            dag_id=INVALID_SPECS_DAG_ID, schedule=None, description="service specs that failed validation"
        )
        sentinel.airlock_errors = (
            f"{len(errors)} service spec file(s) are invalid; their DAGs were not created "
            "(other services are unaffected):\n" + "\n".join(errors)
        )
        dags[INVALID_SPECS_DAG_ID] = sentinel
    return dags
