"""DeployLockOperator: acquire / release the per-service deploy lock (a Lease in production)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airlock.kube import lock
from operators._kube import KubeOperator
from operators.xcom_keys import FAILURE_REASON_KEY


class DeployLockOperator(KubeOperator):
    """action="acquire": take Lease `airlock-<service>` for `holder` (fails at once, naming the holder
    and expiry, if another live run holds it); action="release": give it back if we hold it.

    Use release as a teardown task so the lock is released whatever happened. A crashed run's lock
    expires after `ttl_seconds` (default: 3 hours, longer than any sane deployment).
    """

    template_fields = ("holder",)
    request_optional = True  # the release is a teardown: it runs even when validate failed

    def __init__(
        self, *, action: str, holder: str = "{{ run_id }}", ttl_seconds: int = 3 * 3600, **kwargs: Any
    ) -> None:
        if action not in ("acquire", "release"):
            raise ValueError(f"action must be 'acquire' or 'release', got {action!r}")
        super().__init__(**kwargs)
        self.action = action
        self.holder = holder
        self.ttl_seconds = ttl_seconds

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.service_spec
        kube = self.kube()
        if self.action == "release":
            return lock.release(kube, self.namespace, spec.service, str(self.holder)).to_dict()
        try:
            result = lock.acquire(kube, self.namespace, spec.service, str(self.holder), self.ttl_seconds)
        except lock.LockHeld as exc:
            context["ti"].xcom_push(
                key=FAILURE_REASON_KEY, value=str(exc)
            )  # the record and Slack name the holder
            raise AirflowFailException(str(exc)) from None
        self.log.info("deploy lock %s held by %s until %s", result.lease, result.holder, result.expires)
        return result.to_dict()
