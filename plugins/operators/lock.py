"""DeployLockOperator: acquire / release the per-service deploy lock (a fenced Lease in production)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airlock.kube import lock
from operators._kube import KubeOperator
from operators.lease import run_holder
from operators.xcom_keys import FAILURE_REASON_KEY


class DeployLockOperator(KubeOperator):
    """action="acquire": take Lease `airlock-<service>` for this run (fails at once, naming the holder
    and expiry, if another live run holds it, and naming the failed run while the service's line is
    stopped); action="release": give it back if we hold it (kept when this run stopped the line).

    The holder is `<installation id>/<run id>` (operators.lease) unless `holder` is given. The lease
    lasts `ttl_seconds` (default AIRLOCK_LOCK_LEASE_SECONDS or 5 minutes) and is renewed by the run's
    production writes (the fence) and by its triggers while it waits; a crashed run's lock expires.
    Use release as a teardown task so the lock is released whatever happened.
    """

    template_fields = ("holder",)
    request_optional = True  # the release is a teardown: it runs even when validate failed

    def __init__(
        self, *, action: str, holder: str | None = None, ttl_seconds: int | None = None, **kwargs: Any
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
        run_id = self.run_request.run_id if self.has_request else str(context["run_id"])
        holder = str(self.holder or run_holder(run_id))  # the same identity the run's fence checks
        ttl = self.ttl_seconds or lock.lease_seconds()
        if self.action == "release":
            return lock.release(kube, self.namespace, spec.service, holder).to_dict()
        self.log.info(
            "Taking deploy lock %s/%s for %s (lease %s s, renewed while the run lives).",
            self.namespace,
            lock.lease_name(spec.service),
            holder,
            ttl,
        )
        try:
            result = lock.acquire(kube, self.namespace, spec.service, holder, ttl)
        except (lock.LockHeld, lock.LineStopped) as exc:
            context["ti"].xcom_push(
                key=FAILURE_REASON_KEY, value=str(exc)
            )  # the record and Slack name the holder
            raise AirflowFailException(str(exc)) from None
        self.log.info("deploy lock %s held by %s until %s", result.lease, result.holder, result.expires)
        return result.to_dict()
