"""MigrationOperator: run the service's migration Job for a version (once), wait deferred, copy its logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airlock.kube import migration
from airlock.kube.plan import migration_job_name
from operators._kube import KubeOperator


class MigrationOperator(KubeOperator):
    """Create `<service>-migrate-<version>` from `spec.migration` unless it exists; wait for Complete/Failed.

    Returns {"job", "status", "reversible"}. A completed Job is never re-run; a failed one fails the task
    (delete the Job to re-run it, once the cause is understood).
    """

    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        if spec.migration is None:
            self.log.info("%s has no migration section; nothing to run", spec.service)
            return migration.MigrationResult(None, "none", reversible=True).to_dict()
        kube = self.kube()
        result = migration.ensure_job(kube, spec, self.namespace, self.version)
        if kube.dry_run:
            return migration.MigrationResult(result["job"], "dry_run", spec.migration.reversible).to_dict()
        if result["status"] != "Running":
            return self.execute_complete(
                context, event={"job": result["job"], "state": result["status"], "message": result["message"]}
            )
        timeout = spec.migration.timeout.total_seconds()
        from triggers.job import JobTrigger  # lazy: keeps DAG parsing free of the kubernetes clients

        self.defer(
            trigger=JobTrigger(
                conn_id=spec.connection_for(self.environment),
                namespace=self.namespace,
                job=result["job"],
                timeout=timeout,
                lease=self.lease_dict(),  # renewed while waiting
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 120),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        spec = self.service_spec
        event = event or {}
        name = event.get("job") or migration_job_name(spec, self.version)
        kube = self.kube()
        for pod, lines in migration.job_logs(kube, self.namespace, name).items():
            self.log.info("---- logs of migration pod %s (%d lines) ----", pod, len(lines))
            for line in lines:
                self.log.info("%s", line)
        reversible = spec.migration.reversible if spec.migration else True
        if event.get("state") != "Complete":
            raise AirflowException(
                f"migration {name} did not complete: {event.get('message')}. "
                f"To re-run it after fixing the cause: kubectl delete job {name} -n {self.namespace}"
            )
        self.log.info("%s (%s)", event.get("message"), "reversible" if reversible else "IRREVERSIBLE")
        return migration.MigrationResult(name, "Complete", reversible).to_dict()
