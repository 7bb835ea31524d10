"""LogScanOperator: error signatures in the new version's pod logs vs the stable version's."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airlock.checks.log_scan import scan_pods, signatures_table
from airlock.kube.api import selector_string
from airlock.spec import spec_from
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY, RETURN_VALUE


class LogScanOperator(DashboardLinkMixin, RequestBound, BaseOperator):
    """Scan the logs of the pods running `version` (since they started, last spec.logs.tail_lines lines
    per pod) for spec.logs.error_patterns; compare signatures with the other pods of the app. Fails when
    more than spec.logs.max_new_signatures signatures are new or increased. Returns the result, with
    `evidence.signatures` (one row per signature: counts, rates, verdict), as XCom."""

    ui_color = "#fff8e1"

    def __init__(self, *, spec: dict[str, Any], environment: str = "production", **kwargs: Any):
        super().__init__(**kwargs)
        self.spec = spec
        self.environment = environment

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        namespace = spec.environment(self.environment).namespace
        selector = selector_string(spec.app_labels)
        logs = spec.logs
        self.log.info(
            "Scanning logs of %s pods (%s) in %s: version %s vs stable; patterns %s; allowed new signatures %d, "
            "increase ratio > %gx flags",
            spec.service,
            selector,
            namespace,
            self.version,
            logs.error_patterns,
            logs.max_new_signatures,
            logs.max_increase_ratio,
        )
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import (
            KubernetesHook,  # lazy: keeps DAG parsing free of the kubernetes clients
        )

        api = KubernetesHook(conn_id=spec.connection_for(self.environment)).get_conn()
        result = scan_pods(
            api,
            namespace,
            selector,
            spec.container,
            self.version,
            logs.error_patterns,
            logs.max_increase_ratio,
            logs.max_new_signatures,
            tail_lines=logs.tail_lines,
        )
        rows = result.evidence.get("signatures") or []
        self.log.info("Error signatures (%d):\n%s", len(rows), signatures_table(rows) if rows else "(none)")
        self.log.info("Log scan %s: %s", result.status.upper(), result.reason)
        if result.failed:
            # a failed task returns nothing: push the evidence as its value, so the record shows the signatures
            context["ti"].xcom_push(key=RETURN_VALUE, value=result.to_dict())
            context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=f"log scan failed: {result.reason}")
            raise AirflowException(f"log scan failed: {result.reason}")
        return result.to_dict()
