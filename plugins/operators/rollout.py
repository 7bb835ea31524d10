"""RollingUpdateOperator: `kubectl set image` + change-cause, then a deferred `kubectl rollout status`."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context

from airlock.kube import rolling
from operators._kube import KubeOperator


class RollingUpdateOperator(KubeOperator):
    """Roll the service's Deployment to `version` and wait (deferred) until it is rolled out.

    A retry finds the image already set and writes nothing; the wait then simply confirms the state.
    Returns the ImageUpdate (airlock.kube.rolling) with status rolled_out (or dry_run).
    """

    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        kube = self.kube()
        result = self.start_rolling_update(kube, context)
        if kube.dry_run:
            self.log.info("DRY RUN: not waiting for a rollout that was not started")
            return result.with_status("dry_run").to_dict()
        return self.wait_rollout(
            context,
            spec.deployment,
            "execute_complete",
            {"result": result.to_dict()},
            ends_with=result.with_status("rolled_out").to_dict(),  # what execute_complete returns
        )

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, result: dict[str, Any] | None = None
    ) -> Any:
        update = rolling.ImageUpdate.from_dict(self.resumed(event, "result", result))
        event = self.check_rollout_event(event, context)
        self.log.info("%s", event.get("message"))
        return update.with_status("rolled_out").to_dict()
