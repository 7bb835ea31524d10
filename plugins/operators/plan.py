"""RecordRollbackPlanOperator: record what rollback will restore, before an environment is touched."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context

from airlock.kube.plan import describe_plan, record_plan
from operators._kube import KubeOperator


class RecordRollbackPlanOperator(KubeOperator):
    """Read the environment's current state (production by default; `environment="staging"` for the
    staging phase) into a JSON-able plan (returned as XCom) and store it on the Deployment (annotation
    `airlock.io/rollback-plan`, keyed by run id), so a retry after the environment changed re-uses the
    original plan instead of recording the new state as "previous".

    Production is changed with the run's strategy; staging always with a rolling update, so a staging
    plan is a rolling one whatever the run's strategy.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.service_spec
        request = self.run_request
        strategy = request.strategy if self.environment == "production" else "rolling"
        self.log.info(
            "recording what %s (namespace %s) looks like before this run changes it: rollback restores it",
            self.environment,
            self.namespace,
        )
        plan = record_plan(
            self.kube(),
            spec,
            self.namespace,
            strategy,
            str(context["run_id"]),
            request.version,
            request.image,
            environment=self.environment,
        )
        self.log.info("%s", describe_plan(plan))
        return plan.to_dict()
