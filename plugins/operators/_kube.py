"""Shared glue for Airlock's Kubernetes operators: connection -> ApiClient, dry_run parsing, deferral.

The ApiClient comes from the cncf.kubernetes provider's `KubernetesHook` (it handles kubeconfig files,
in-cluster config and inline kubeconfigs); the core (`airlock.kube`) only ever sees that ApiClient.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airlock.kube.api import Kube
from airlock.kube.diagnose import find_stuck_reason
from airlock.kube.lock import Fence, LeaseRef
from airlock.kube.rolling import ImageUpdate, set_image
from airlock.spec import ServiceSpec, spec_from
from operators.lease import fenced_dag, lease_ref
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY

SYNC_WAIT_SECONDS = 20.0  # a rollout wait longer than this defers to the triggerer


def api_client(spec: ServiceSpec, environment: str) -> Any:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import (
        KubernetesHook,  # lazy: keeps DAG parsing free of the kubernetes clients
    )

    return KubernetesHook(conn_id=spec.connection_for(environment)).get_conn()


class KubeOperator(RequestBound, BaseOperator):
    """Base for operators that change a Kubernetes namespace of a service (production by default).

    What to deploy (version, image, dry run) comes from the run's RunRequest (see RequestBound).
    """

    template_fields: tuple[str, ...] = ()
    ui_color = "#dbeafe"

    def __init__(
        self, *, spec: dict[str, Any], environment: str = "production", deferrable: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.environment = environment
        self.deferrable = deferrable

    # -- helpers -------------------------------------------------------------------------------
    @property
    def service_spec(self) -> ServiceSpec:
        return spec_from(self.spec)

    @property
    def namespace(self) -> str:
        return self.service_spec.environment(self.environment).namespace

    def kube(self) -> Kube:
        dry = self.is_dry_run
        if dry:
            self.log.info("DRY RUN: reads go to the cluster, writes are only logged")
        return Kube(
            api_client(self.service_spec, self.environment), dry_run=dry, log=self.log, fence=self.fence()
        )

    def lease(self) -> LeaseRef | None:
        """The run's deploy lock, which its deferred waits renew in any environment (None: not a deploy
        DAG, a dry run or no request)."""
        if not (self.has_request and not self.is_dry_run and fenced_dag(self)):
            return None
        return lease_ref(self.service_spec, self.run_request.run_id)

    def lease_dict(self) -> dict[str, Any] | None:
        ref = self.lease()
        return ref.to_dict() if ref is not None else None

    def fence(self) -> Fence | None:
        """Production writes are fenced on the lock (it lives in the production namespace and cluster)."""
        ref = self.lease() if self.environment == "production" else None
        return Fence(ref) if ref is not None else None

    def image(self) -> str:
        return self.run_request.image

    def cause(self, context: Context) -> str:
        from airlock.kube.rolling import change_cause

        return change_cause(self.service_spec.service, str(context["run_id"]), self.image())

    def start_rolling_update(self, kube: Kube, context: Context) -> ImageUpdate:
        """`kubectl set image` on the service's own Deployment (with change-cause and progress deadline)."""
        spec = self.service_spec
        deadline = int(spec.strategy.rolling.progress_deadline.total_seconds())
        return set_image(
            kube,
            self.namespace,
            spec.deployment,
            spec.container,
            self.image(),
            self.cause(context),
            progress_deadline_seconds=deadline,
        )

    @property
    def rollout_timeout(self) -> float:
        return self.service_spec.strategy.rollout_timeout.total_seconds()

    # -- waiting -------------------------------------------------------------------------------
    def wait_rollout(
        self,
        context: Context,
        deployment: str,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        ends_with: dict[str, Any] | None = None,
    ) -> Any:
        """Defer to RolloutTrigger (or block, if deferrable=False), then call `method_name`.

        `ends_with`: what the task returns once the rollout completed, when that needs no more work on a
        worker. Then the wait is handed to the triggerer at once and a completed rollout ends the task
        there: no worker waits for the rollout, and none starts again only to return (a failed rollout
        still resumes `method_name` here). Not under dag.test(), which drops an ending event's XComs.
        """
        timeout = self.rollout_timeout
        from airlock.kube.wait import wait_for_rollout

        if self.deferrable and ends_with is not None:
            from sensors.metrics import under_dag_test

            if not under_dag_test():
                self.defer_rollout(deployment, method_name, kwargs, timeout, ends_with)
        if self.deferrable:
            # Most rollouts finish in seconds: watch briefly in the worker first and defer only a
            # genuinely long wait (which also keeps clear of the scheduler's stale-event race, see
            # triggers/stale_event_guard.py).
            first = wait_for_rollout(
                self.kube(), self.namespace, deployment, min(SYNC_WAIT_SECONDS, timeout), log=self.log
            )
            if not first.timed_out:
                event = {
                    "status": "success" if first.done else "failed",
                    "message": first.message,
                    "deployment": deployment,
                    "requests": first.requests,
                    "extra": kwargs or {},
                }
                return getattr(self, method_name)(context, event=event, **(kwargs or {}))
            self.defer_rollout(deployment, method_name, kwargs, max(timeout - SYNC_WAIT_SECONDS, 1.0))
        result = wait_for_rollout(self.kube(), self.namespace, deployment, timeout, log=self.log)
        event = {
            "status": "success" if result.done else ("timeout" if result.timed_out else "failed"),
            "message": result.message,
            "deployment": deployment,
            "requests": result.requests,
        }
        return getattr(self, method_name)(context, event=event, **(kwargs or {}))

    def defer_rollout(
        self,
        deployment: str,
        method_name: str,
        kwargs: dict[str, Any] | None,
        timeout: float,
        ends_with: dict[str, Any] | None = None,
    ) -> None:
        from triggers.rollout import RolloutTrigger

        self.log.info(
            'waiting (deferred, no worker held) up to %ss for deployment "%s" in %s to roll out%s',
            int(timeout),
            deployment,
            self.namespace,
            "; a completed rollout ends the task there, a failed one resumes it here"
            if ends_with is not None
            else "",
        )
        self.defer(
            trigger=RolloutTrigger(
                conn_id=self.service_spec.connection_for(self.environment),
                namespace=self.namespace,
                deployment=deployment,
                timeout=timeout,
                extra=kwargs or {},
                lease=self.lease_dict(),  # renewed while waiting
                end_with=ends_with,
            ),
            method_name=method_name,
            kwargs=kwargs or {},
            timeout=timedelta(seconds=timeout + 120),
        )

    @staticmethod
    def resumed(event: dict[str, Any] | None, name: str, value: Any = None) -> Any:
        """A value handed to `wait_rollout(kwargs=...)`: from the resume kwargs or the event's echo."""
        if value is not None:
            return value
        return ((event or {}).get("extra") or {}).get(name)

    def check_rollout_event(
        self, event: dict[str, Any] | None, context: Context | None = None
    ) -> dict[str, Any]:
        """Raise with the stuck reason unless the rollout succeeded; returns the event.

        The failure sentence is also pushed as XCom `failure_reason`, which the rollback task reports.
        """
        if not event:
            raise AirflowException("rollout wait resumed without an event")
        if event.get("status") == "success":
            self.log.info("%s (%s API requests while waiting)", event.get("message"), event.get("requests"))
            return event
        reason = event.get("stuck_reason")
        if reason is None:
            found = find_stuck_reason(
                Kube(api_client(self.service_spec, self.environment), log=self.log),
                self.namespace,
                event["deployment"],
            )
            reason = event["stuck_reason"] = found.as_dict() if found else None
        why = reason["message"] if reason else "no pod explains it"
        message = f'rollout of deployment "{event["deployment"]}" did not complete: {event.get("message")}. Why: {why}'
        if context is not None:
            context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=message)
        raise AirflowException(message)
