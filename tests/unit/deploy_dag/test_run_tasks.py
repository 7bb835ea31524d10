"""ChooseStrategyOperator: the strategy branch follows the chosen strategy's first task; the later tasks only
one strategy runs (blue-green's old-colour cleanup) are skipped by name at the branch in the other
strategies' runs (a branch alone would not: every strategy leads to the cleanup through validation)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.bases.operator import BaseOperator
from airflow.sdk.exceptions import DownstreamTasksSkipped

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
        retire = Noop(task_id="retire_old_colour")
        for first in FIRST.values():
            branch >> Noop(task_id=first) >> retire  # like the deploy DAG: every strategy leads there
        branch.only_for("blue_green", retire)
    return branch


def _skipped(branch: ChooseStrategyOperator, strategy: str) -> list[str]:
    ti = SimpleNamespace(task=branch, map_index=-1, xcom_push=lambda **_: None)
    chosen = branch.choose_branch(_context(strategy))  # type: ignore[arg-type]
    assert chosen == FIRST[strategy]
    with pytest.raises(DownstreamTasksSkipped) as skipped:
        # as the base class's do_branch hands it over: a generator of the chosen task ids
        branch.skip_all_except(ti, (task_id for task_id in [chosen]))  # type: ignore[arg-type]
    return sorted(t if isinstance(t, str) else t[0] for t in skipped.value.tasks)


@pytest.mark.parametrize(
    ("strategy", "skipped"),
    [
        ("blue_green", ["canary.step_1", "rolling.update"]),
        ("canary", ["blue_green.deploy_green", "retire_old_colour", "rolling.update"]),
        ("rolling", ["blue_green.deploy_green", "canary.step_1", "retire_old_colour"]),
    ],
)
def test_the_branch_skips_the_other_strategies_and_their_later_tasks(
    strategy: str, skipped: list[str]
) -> None:
    assert _skipped(_branch(), strategy) == skipped


def test_a_task_only_for_an_unknown_strategy_is_refused_naming_the_allowed_ones() -> None:
    with DAG("d2", schedule=None):
        branch = ChooseStrategyOperator(task_id="choose_strategy", first_task={"canary": "c"})
        with pytest.raises(ValueError, match="'blue_green' has no branch here; allowed: canary"):
            branch.only_for("blue_green", Noop(task_id="t"))


def test_in_the_deploy_dag_the_old_colour_cleanup_is_only_for_blue_green_and_promote_for_canary() -> None:
    dag = build_deploy_dag(load_spec(DEMO), DEMO)
    branch = dag.get_task("production.choose_strategy")
    assert isinstance(branch, ChooseStrategyOperator)
    assert branch.later_tasks == {
        "canary": ["production.canary.promote"],
        "blue_green": ["complete.retire_old_colour"],
    }
    assert branch.not_for("rolling") == ["complete.retire_old_colour", "production.canary.promote"]
    assert branch.not_for("canary") == ["complete.retire_old_colour"]
    assert "validation.log_scan" in dag.get_task("complete.retire_old_colour").upstream_task_ids
