"""RolloutSensor: deferrable `kubectl rollout status` for any Deployment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from airlock.kube.api import Kube
from airlock.kube.diagnose import find_stuck_reason
from airlock.kube.status import rollout_status


class RolloutSensor(BaseSensorOperator):
    """Wait (in the triggerer) until `deployment` in `namespace` is rolled out; fail with the stuck reason
    when its progress deadline is exceeded or `timeout` passes."""

    template_fields = ("namespace", "deployment")

    def __init__(
        self,
        *,
        namespace: str,
        deployment: str,
        kubernetes_conn_id: str = "kubernetes_default",
        timeout: float = 900,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.namespace = namespace
        self.deployment = deployment
        self.kubernetes_conn_id = kubernetes_conn_id
        self.deferrable = deferrable

    def _kube(self) -> Kube:
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

        return Kube(KubernetesHook(conn_id=self.kubernetes_conn_id).get_conn(), log=self.log)

    def poke(self, context: Context) -> bool:
        status = rollout_status(self._kube().get("deployments", self.namespace, self.deployment) or {})
        self.log.info("%s", status.message)
        if status.failed:
            raise AirflowException(self._why(status.message))
        return status.done

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from triggers.rollout import RolloutTrigger  # lazy: keeps DAG parsing free of the kubernetes clients

        self.defer(
            trigger=RolloutTrigger(
                conn_id=self.kubernetes_conn_id,
                namespace=self.namespace,
                deployment=self.deployment,
                timeout=float(self.timeout),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )

    def _why(self, message: str, reason: dict[str, Any] | None = None) -> str:
        if reason is None:
            found = find_stuck_reason(self._kube(), self.namespace, self.deployment)
            reason = found.as_dict() if found else None
        return f"{message}. Why: {reason['message'] if reason else 'no pod explains it'}"

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        event = event or {}
        if event.get("status") == "success":
            self.log.info("%s (%s API requests while waiting)", event.get("message"), event.get("requests"))
            return event
        raise AirflowException(self._why(str(event.get("message")), event.get("stuck_reason")))
