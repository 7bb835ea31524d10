"""Load every service spec in a folder and build its DAG; collect bad files instead of raising."""

from __future__ import annotations

from datetime import UTC, datetime
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


def build_all(services_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """One deploy (and follow-up) DAG per spec file; every file that fails - to read, to validate, or to
    build into a DAG, whatever the exception - becomes a line of the sentinel's import error, naming the
    file, and the other services still load. `now` (default: the current time) rejects past freezes."""
    now = now or datetime.now(UTC)
    dags: dict[str, Any] = {}
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(services_dir.glob("*.y*ml")):
        try:
            spec = load_spec(path, today=now)
            if spec.dag_id in seen:
                errors.append(f"{path}: service {spec.service!r} is already defined in {seen[spec.dag_id]}")
                continue
            built = {spec.dag_id: build_deploy_dag(spec, source=path)}
            followup = build_followup_dag(spec)
            built[followup.dag_id] = followup
        except SpecError as exc:
            message = str(exc)
            errors.append(message if str(path) in message else f"{path}: {message}")
            continue
        except Exception as exc:  # noqa: BLE001 - one broken file must not hide every other service
            errors.append(f"{path}: could not be loaded: {type(exc).__name__}: {exc}")
            continue
        seen[spec.dag_id] = path
        dags.update(built)
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
