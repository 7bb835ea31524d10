"""dags/deploy_services.py holds the garbage collector off while it runs and leaves it as it found it: enabled
again, what it built in the oldest generation (still collectable), and a frozen heap still frozen."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.sdk import DAG

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "deploy_services.py"


@pytest.fixture
def gc_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def _dags(namespace: dict[str, object]) -> list[DAG]:
    return [value for value in namespace.values() if isinstance(value, DAG)]


def test_the_dags_land_in_the_oldest_generation_and_the_collector_runs_again(gc_restored: None) -> None:
    gc.enable()
    namespace = runpy.run_path(str(DAG_FILE))
    dags = _dags(namespace)
    assert len(dags) >= 2, "the deploy DAGs of dags/services/ and the follow-up DAG"
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0, "nothing is left frozen"
    oldest = {id(obj) for obj in gc.get_objects(generation=2)}
    assert all(id(dag) in oldest for dag in dags)


def test_a_disabled_collector_stays_disabled(gc_restored: None) -> None:
    gc.disable()
    runpy.run_path(str(DAG_FILE))
    assert not gc.isenabled()


def test_a_frozen_heap_is_not_thawed(gc_restored: None) -> None:
    gc.enable()
    gc.freeze()  # as Airflow's dag-processor does before it forks a parsing process
    frozen = gc.get_freeze_count()
    namespace = runpy.run_path(str(DAG_FILE))
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()
    assert _dags(namespace)
