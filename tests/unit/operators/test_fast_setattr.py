"""FastSetattr builds exactly the operators BaseOperator.__setattr__ builds, only cheaper: every deploy DAG
serializes the same with and without it, and its parts (converters, init kwargs, XComArg dependencies
assigned after construction, execution lock) behave as Airflow's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator
from airflow.serialization.serialized_objects import DagSerialization

from airlock.spec import load_spec
from deploy_dag.graph import build_deploy_dag
from operators.fast_setattr import FastSetattr, converted_names, mirrors_base_setattr, special_names

SERVICES = Path(__file__).resolve().parents[3] / "dags" / "services"


class _Op(FastSetattr, BaseOperator):
    template_fields = ("payload",)

    def __init__(self, *, payload: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.payload = payload


class _Stock(BaseOperator):
    template_fields = ("payload",)

    def __init__(self, *, payload: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.payload = payload


def test_it_is_active_on_the_airflow_it_mirrors() -> None:
    # the venv's Airflow: if this fails after an upgrade, compare BaseOperator.__setattr__ with
    # FastSetattr.__setattr__ and update both (until then the stock method runs: slower, still right)
    assert mirrors_base_setattr()
    assert _Op.__setattr__ is FastSetattr.__setattr__


@pytest.mark.parametrize("service", sorted(p.stem for p in SERVICES.glob("*.yaml")))
def test_every_deploy_dag_serializes_as_with_airflows_setattr(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(SERVICES / f"{service}.yaml")
    fast = DagSerialization.to_dict(build_deploy_dag(spec, SERVICES / f"{service}.yaml"))
    monkeypatch.delattr(FastSetattr, "__setattr__")  # every operator falls back to BaseOperator's
    stock = DagSerialization.to_dict(build_deploy_dag(spec, SERVICES / f"{service}.yaml"))
    assert fast == stock


def test_converters_run_as_in_airflow() -> None:
    with DAG("fast_setattr_converters", schedule=None):
        op = _Op(task_id="op", retry_delay=30, retries="2")
    assert op.retry_delay == timedelta(seconds=30)
    assert op.retries == 2
    assert op.dag.task_dict["op"] is op  # _convert__dag added it to the DAG
    assert {"retry_delay", "retries", "_dag"} <= converted_names(_Op)


def test_init_kwargs_and_later_xcom_dependencies_follow_assignments() -> None:
    with DAG("fast_setattr_deps", schedule=None):
        fast_up, fast = _Op(task_id="up"), _Op(task_id="fast", payload=1)
        stock_up, stock = _Stock(task_id="stock_up"), _Stock(task_id="stock", payload=1)
    fast.payload = fast_up.output
    stock.payload = stock_up.output
    assert fast.upstream_task_ids == {"up"}
    assert stock.upstream_task_ids == {"stock_up"}
    assert fast._BaseOperator__init_kwargs["payload"] is fast.payload  # type: ignore[attr-defined]


def test_nothing_but_the_value_changes_once_locked_for_execution() -> None:
    with DAG("fast_setattr_locked", schedule=None):
        up, op = _Op(task_id="up"), _Op(task_id="op", payload=1)
    op._lock_for_execution = True
    op.payload = up.output
    assert op.upstream_task_ids == set()
    assert op._BaseOperator__init_kwargs["payload"] == 1  # type: ignore[attr-defined]


def test_a_class_between_it_and_base_operator_with_its_own_setattr_keeps_it() -> None:
    seen: list[str] = []

    class Watching(BaseOperator):
        def __setattr__(self, key: str, value: Any) -> None:
            seen.append(key)
            super().__setattr__(key, value)

    class Op(FastSetattr, Watching):
        pass

    with DAG("fast_setattr_hidden", schedule=None):
        Op(task_id="op")
    assert "task_id" in seen


def test_data_descriptors_and_converters_take_the_full_path() -> None:
    # `dag` is a property (its setter must run) and `_dag` has a converter; a plain name is stored directly
    names = special_names(_Op)
    assert {"dag", "_dag", "retry_delay", "__dict__", "__class__"} <= names
    assert "payload" not in names


def test_a_property_of_the_operator_class_still_runs_its_setter() -> None:
    set_to: list[Any] = []

    class WithProperty(FastSetattr, BaseOperator):
        @property
        def colour(self) -> str:
            return str(self.__dict__.get("_colour", ""))

        @colour.setter
        def colour(self, value: str) -> None:
            set_to.append(value)
            self.__dict__["_colour"] = value.upper()

    with DAG("fast_setattr_property", schedule=None):
        op = WithProperty(task_id="op")
    op.colour = "green"
    assert set_to == ["green"]
    assert op.colour == "GREEN"
    assert "colour" not in vars(op)


def test_a_mapped_operator_keeps_its_init_kwargs_as_built() -> None:
    # the from-mapped flag is only read when the init kwargs hold the name: it must still stop the update
    with DAG("fast_setattr_mapped", schedule=None):
        op = _Op(task_id="op", payload=1)
    object.__setattr__(op, "_BaseOperator__from_mapped", True)
    op.payload = 2
    assert op._BaseOperator__init_kwargs["payload"] == 1  # type: ignore[attr-defined]
    object.__setattr__(op, "_BaseOperator__from_mapped", False)
    op.payload = 3
    assert op._BaseOperator__init_kwargs["payload"] == 3  # type: ignore[attr-defined]
