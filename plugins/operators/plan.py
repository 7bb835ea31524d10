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

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.service_spec
        request = self.run_request
        plan = record_plan(
            self.kube(),
            spec,
            self.namespace,
            request.strategy,
            str(context["run_id"]),
            request.version,
            request.image,
        )
        self.log.info("%s", describe_plan(plan))
        return plan.to_dict()
