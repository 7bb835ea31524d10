"""ChooseStrategyOperator: the strategy branch follows the chosen strategy's first task and the later tasks
only that strategy runs (blue-green's old-colour cleanup); another strategy skips them at the branch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.bases.operator import BaseOperator

from airlock.spec import load_spec
from deploy_dag.graph import build_deploy_dag
from deploy_dag.run_tasks import ChooseStrategyOperator
from tests.fixtures.run_requests import request_for

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "dags" / "services" / "demo-api.yaml"
FIRST = {"canary": "canary.step_1", "blue_green": "blue_green.deploy_green", "rolling": "rolling.update"}


class Noop(BaseOperator):
    pass


def _context(strategy: str) -> dict[str, Any]:
    spec = load_spec(DEMO)

    class TI:
        def xcom_pull(self, task_ids: str, **_: Any) -> Any:
            return request_for(spec, "v2", strategy)

    return {"ti": TI()}


def _branch() -> ChooseStrategyOperator:
    with DAG("d", schedule=None):
        branch = ChooseStrategyOperator(task_id="choose_strategy", first_task=FIRST)
        branch.only_for("blue_green", Noop(task_id="retire_old_colour"))
    return branch


@pytest.mark.parametrize(
    ("strategy", "chosen"),
    [
        ("blue_green", ["blue_green.deploy_green", "retire_old_colour"]),
        ("canary", ["canary.step_1"]),
        ("rolling", ["rolling.update"]),
    ],
)
def test_the_branch_follows_the_strategy_and_its_later_tasks_only(strategy: str, chosen: list[str]) -> None:
    branch = _branch()
    assert branch.choose_branch(_context(strategy)) == chosen  # type: ignore[arg-type]
    assert "retire_old_colour" in branch.downstream_task_ids, "skipped by the branch when not chosen"


def test_a_task_only_for_an_unknown_strategy_is_refused_naming_the_allowed_ones() -> None:
    with DAG("d2", schedule=None):
        branch = ChooseStrategyOperator(task_id="choose_strategy", first_task={"canary": "c"})
        with pytest.raises(ValueError, match="'blue_green' has no branch here; allowed: canary"):
            branch.only_for("blue_green", Noop(task_id="t"))


def test_in_the_deploy_dag_the_old_colour_cleanup_hangs_off_the_strategy_branch() -> None:
    dag = build_deploy_dag(load_spec(DEMO), DEMO)
    branch = dag.get_task("production.choose_strategy")
    assert isinstance(branch, ChooseStrategyOperator)
    assert branch.later_tasks == {"blue_green": ["complete.retire_old_colour"]}
    upstream = dag.get_task("complete.retire_old_colour").upstream_task_ids
    assert {"production.choose_strategy", "validation.log_scan"} <= upstream, "it still waits for validation"
