"""CanaryStepOperator and CanaryPromoteOperator: replica-ratio canary steps, then promotion."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowSkipException

from airlock.kube import canary, rolling
from operators._kube import KubeOperator


class CanaryStepOperator(KubeOperator):
    """Size `<deployment>-canary` (new version) so it gets this step's weight of the pods, and wait until ready.

    `slot` is the step's index (0-based) in the run's canary steps (RunRequest.canary_weights); a run with
    fewer steps than the spec skips the unused slots, and so does every step after an analysis a person
    answered "Promote now" (deploy_dag.guards.skip_after_promote_now; the analyses after it skip by
    their trigger rule, and `promote` runs). The stable Deployment keeps its full size, so
    aborting is instant. Returns the step:
    {"deployment", "replicas", "stable_replicas", "weight", "effective_percent", "changed", "image"}.
    """

    def __init__(self, *, slot: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slot = slot

    def earlier_analyses(self) -> list[str]:
        """The canary analyses upstream of this step (their answers may have promoted the canary now)."""
        from sensors.metrics import MetricsSensor

        upstream = self.get_flat_relatives(upstream=True)  # none without a DAG
        return sorted(t.task_id for t in upstream if isinstance(t, MetricsSensor) and t.asks_while_observing)

    def execute(self, context: Context) -> Any:
        from deploy_dag.guards import skip_after_promote_now

        skip_after_promote_now(self.earlier_analyses())(context)
        request = self.run_request
        weight = request.canary_weight(self.slot)
        if weight is None:
            raise AirflowSkipException(
                f"canary step slot {self.slot + 1} is not used by this run (steps {list(request.canary_steps)})"
            )
        kube = self.kube()
        step = canary.ensure_canary(
            kube, self.service_spec, self.namespace, self.image(), weight, self.cause(context)
        )
        if kube.dry_run:
            return step.with_status("dry_run").to_dict()
        return self.wait_rollout(
            context,
            step.deployment,
            "execute_complete",
            {"step": step.to_dict()},
            ends_with=step.with_status("ready").to_dict(),  # what execute_complete returns
        )

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, step: dict[str, Any] | None = None
    ) -> Any:
        sized = canary.CanaryStep.from_dict(self.resumed(event, "step", step))
        self.check_rollout_event(event, context)
        return sized.with_status("ready").to_dict()


class CanaryPromoteOperator(KubeOperator):
    """Roll the stable Deployment to the new version (rolling update, deferred wait), then remove the canary."""

    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        kube = self.kube()
        result = self.start_rolling_update(kube, context)
        if kube.dry_run:
            self.log.info("DRY RUN: would then wait for the rollout and remove %s", canary.canary_name(spec))
            return result.with_status("dry_run").to_dict()
        return self.wait_rollout(context, spec.deployment, "execute_complete", {"result": result.to_dict()})

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, result: dict[str, Any] | None = None
    ) -> Any:
        update = rolling.ImageUpdate.from_dict(self.resumed(event, "result", result))
        self.check_rollout_event(event, context)
        removed = canary.remove_canary(self.kube(), self.service_spec, self.namespace)
        self.log.info(
            "promotion complete: stable runs %s; canary %s",
            self.image(),
            "removed" if removed else "was already gone",
        )
        return {**update.with_status("promoted").to_dict(), "canary_removed": removed}
