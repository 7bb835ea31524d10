"""RecordRollbackPlanOperator: record what rollback will restore, before production is touched."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context

from airlock.kube.plan import describe_plan, record_plan
from operators._kube import KubeOperator


class RecordRollbackPlanOperator(KubeOperator):
    """Read production's current state into a JSON-able plan (returned as XCom) and store it on the
    Deployment (annotation `airlock.io/rollback-plan`, keyed by run id), so a retry after production
    changed re-uses the original plan instead of recording the new state as "previous".
    """

    template_fields = ("version", "dry_run", "strategy")

    def __init__(self, *, strategy: str = "{{ params.strategy }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strategy = strategy

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.service_spec
        strategy = str(self.strategy)
        if strategy not in spec.strategy.allowed:
            raise ValueError(f"strategy {strategy!r} is not allowed for {spec.service}: {spec.strategy.allowed}")
        plan = record_plan(self.kube(), spec, self.namespace, strategy, str(context["run_id"]), str(self.version),
                           self.image())
        self.log.info("%s", describe_plan(plan))
        return plan
