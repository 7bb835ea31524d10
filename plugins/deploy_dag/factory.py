"""Load the service specs of a folder and build their DAGs; collect bad files instead of raising.

Every valid service gets `deploy_<service>`; the follow-up DAG (deploy_dag.followup) is one for all
services and reads no spec.

Two entry points, one rule for which file defines a service:
- `build_all` (a full parse, as the dag-processor runs it) loads every file and builds every DAG;
- `build_dags(dag_id=...)` (a task start: the worker re-parses the DAG file for ~35 tasks per run)
  builds only the DAG being run, reading only `<service>.yaml` / `<service>.yml` (the follow-up DAG:
  no file at all).

Both agree on the owner of a service defined by more than one file: the file named after the
service (`.yaml` before `.yml`), else the first in name order. That rule is what lets a task start
trust `<service>.yaml` without reading the other files: under "first in name order" alone, an
`a.yaml` that also said `service: foo` would win the full parse while the task start built foo.yaml.
"""

from __future__ import annotations

import gc
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airlock.spec import ServiceSpec, SpecError, load_spec
from deploy_dag.followup import FOLLOW_UP_DAG_ID, build_followup_dag
from deploy_dag.graph import build_deploy_dag

INVALID_SPECS_DAG_ID = "airlock_invalid_service_specs"
SPEC_GLOB = "*.y*ml"
DEPLOY_PREFIX = "deploy_"


class InvalidServiceSpecs(DAG):
    """A DAG that can never be bagged: DagBag.validate() raises the collected spec errors.

    Airflow records the message as this file's import error (shown in the UI's import errors
    panel) while the valid services of the same file are still bagged - raising at module level
    would hide every service behind one broken file.
    """

    airlock_errors: str = ""

    def validate(self) -> None:
        raise SpecError(self.airlock_errors)


@dataclass(frozen=True)
class _Loaded:
    path: Path
    spec: ServiceSpec


def _owner_rank(path: Path, service: str) -> int:
    """0 for <service>.yaml, 1 for <service>.yml, 2 for any other name: lower owns the service."""
    return {f"{service}.yaml": 0, f"{service}.yml": 1}.get(path.name, 2)


def _error_line(path: Path, exc: BaseException) -> str:
    if isinstance(exc, SpecError):
        message = str(exc)
        return message if str(path) in message else f"{path}: {message}"
    return f"{path}: could not be loaded: {type(exc).__name__}: {exc}"


@contextmanager
def _without_gc_pauses() -> Generator[None]:
    """Hold off CPython's cyclic garbage collector while a full parse builds every DAG.

    The parse creates tens of thousands of objects that all stay alive (tasks, DAGs, task groups), so
    each of the collector's full passes - triggered by the allocation count alone - rescans an ever
    larger heap and finds next to nothing to free: 15 % of a 500-service parse (measured: 8.6 -> 7.4 ms
    CPU per service). Nothing is lost: garbage cycles made meanwhile are collected after, as usual."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def build_all(services_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """One deploy DAG per service, and the follow-up DAG; every file that fails - to read, to validate, or to
    build into a DAG, whatever the exception - becomes a line of the sentinel's import error, naming the
    file, and the other services still load. `now` (default: the current time) rejects past freezes."""
    with _without_gc_pauses():
        return _build_all(services_dir, now or datetime.now(UTC))


def _build_all(services_dir: Path, now: datetime) -> dict[str, Any]:
    dags: dict[str, Any] = {FOLLOW_UP_DAG_ID: build_followup_dag()}
    errors: dict[Path, str] = {}
    loaded: list[_Loaded] = []
    for path in sorted(services_dir.glob(SPEC_GLOB)):
        try:
            loaded.append(_Loaded(path, load_spec(path, today=now)))
        except Exception as exc:  # noqa: BLE001 - one broken file must not hide every other service
            errors[path] = _error_line(path, exc)
    # owner first within each service (see the module docstring); a file whose DAG fails to build
    # does not own its service, so a duplicate of it may still load
    loaded.sort(key=lambda item: (item.spec.service, _owner_rank(item.path, item.spec.service), item.path))
    owner: dict[str, Path] = {}
    for item in loaded:
        spec, path = item.spec, item.path
        if spec.service in owner:
            errors[path] = f"{path}: service {spec.service!r} is already defined in {owner[spec.service]}"
            continue
        try:
            dags[spec.dag_id] = build_deploy_dag(spec, source=path)
        except Exception as exc:  # noqa: BLE001 - as above
            errors[path] = _error_line(path, exc)
            continue
        owner[spec.service] = path
    if errors:
        sentinel = InvalidServiceSpecs(
            dag_id=INVALID_SPECS_DAG_ID, schedule=None, description="service specs that failed validation"
        )
        sentinel.airlock_errors = (
            f"{len(errors)} service spec file(s) are invalid; their DAGs were not created "
            "(other services are unaffected):\n" + "\n".join(errors[path] for path in sorted(errors))
        )
        dags[INVALID_SPECS_DAG_ID] = sentinel
    return dags


def _service_of(dag_id: str) -> str | None:
    if dag_id.startswith(DEPLOY_PREFIX):
        service = dag_id.removeprefix(DEPLOY_PREFIX)
        # a file name, never a path: the dag_id comes from the environment
        return service if service and Path(service).name == service and service != ".." else None
    return None


def build_dags(services_dir: Path, dag_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """What the DAG file exposes: every DAG (dag_id None: a full parse), or only `dag_id` (a task start,
    `get_parsing_context().dag_id`).

    A task start reads `<service>.yaml` (then `.yml`) and builds that one DAG when the file is valid,
    defines that service and builds - exactly the DAG a full parse would have built from it, since that
    file owns the service. Anything else (no such file, a file that fails, a renamed service, a dag_id
    that is not ours) falls back to the full parse, so a task never runs a different DAG than the one
    the dag-processor serialized; only the cost differs. (The worker ignores the file's import errors
    and looks its DAG up by id.)"""
    if dag_id is None:
        return build_all(services_dir, now)
    if dag_id == FOLLOW_UP_DAG_ID:
        return {dag_id: build_followup_dag()}  # the same for every set of services: nothing to read
    service = _service_of(dag_id)
    if service is not None:
        now = now or datetime.now(UTC)
        for name in (f"{service}.yaml", f"{service}.yml"):
            path = services_dir / name
            if not path.is_file():
                continue
            try:
                spec = load_spec(path, today=now)
                if spec.service == service:
                    return {dag_id: build_deploy_dag(spec, source=path)}
            except Exception:  # noqa: BLE001 - the full parse below reports it the usual way
                pass
            # not a valid owner: the full parse would next try <service>.yml, so do we
    # (DAGs built in a `with dag:` block are auto-registered: the worker bags all of them whatever
    # this returns, so there is nothing to gain by trimming the result to `dag_id`)
    return build_all(services_dir, now)
