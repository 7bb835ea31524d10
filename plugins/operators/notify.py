"""Slack notifications through the slack provider's SlackWebhookHook (sending: notifiers.slack).

A Slack failure never fails or blocks a deployment: every send catches, logs a warning and returns.
Task failure callbacks and the overdue deadline alert are notifiers (notifiers.slack).
`spec.notify.slack_connection` None means notifications are off (logged). The connection is of type
`slackwebhook`: the full webhook URL in the password field, or host = base URL + password = token path.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context, TriggerRule

from airlock import notify
from airlock.record import stopped_before_production
from airlock.spec import ServiceSpec, spec_from
from notifiers.slack import post
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound

KINDS = ("start", "success", "rollback", "stopped", "outcome")


def send_slack(spec: ServiceSpec, message: dict[str, Any], log: Any) -> bool:
    """Post `message` to the spec's Slack webhook; True when Slack accepted it. Never raises.

    Every secret Airflow masks in logs (connection passwords and extras, `mask_secret` values) is
    masked in the message too: an error text quoted in it cannot carry one to Slack. Text escaping is
    the builders' (airlock.notify.slack_escape).
    """
    return post(spec.notify.slack_connection, spec.service, message, log)


class SlackNotifyOperator(DashboardLinkMixin, RequestBound, BaseOperator):
    """Send one deployment message.

    kind: "start" (from the run's RunRequest), "success" / "rollback" (from `record`, the
    RecordDeploymentOperator's XCom), or "outcome" (success, rollback, or "stopped" for a run that failed
    before production changed - whichever the record calls for). Returns {"kind", "sent": bool, "text"}.
    """

    template_fields = ("record",)
    ui_color = "#f4e1f7"
    request_optional = True  # the outcome message is built from the record alone

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        kind: str,
        record: Any = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        **kwargs: Any,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is not allowed; allowed: {', '.join(KINDS)}")
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.spec = spec
        self.kind = kind
        self.record = record

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        try:
            kind, message = self._build(spec, context)
        except Exception as exc:  # a message we cannot build must not stop the deployment either
            self.log.warning("Could not build the %s notification: %s", self.kind, exc)
            return {"kind": self.kind, "sent": False, "text": ""}
        if message is None:
            return {"kind": kind, "sent": False, "text": ""}
        self.log.info("Sending the %s notification for %s.", kind, spec.service)
        return {"kind": kind, "sent": send_slack(spec, message, self.log), "text": message["text"]}

    def _build(self, spec: ServiceSpec, context: Context) -> tuple[str, dict[str, Any] | None]:
        dashboard = spec.metrics.dashboard or ""
        if self.kind == "start":
            request = self.run_request
            message = notify.start_message(
                spec,
                version=request.version,
                strategy=request.strategy,
                change_summary=request.change_summary,
                risk=request.risk,
                canary_steps=list(request.canary_steps) or None,
                dry_run=request.dry_run,
                run_id=context["ti"].run_id,
            )
            return "start", message
        record = self.record
        if not isinstance(record, dict) or "outcome" not in record:
            self.log.warning(
                "No deployment record was given (got %r); nothing to announce.", type(record).__name__
            )
            return self.kind, None
        kind = self.kind
        if kind == "outcome":
            if record["outcome"] in ("succeeded", "dry_run"):
                kind = "success"
            elif stopped_before_production(record):
                kind = "stopped"
            else:
                kind = "rollback"
        if kind == "success":
            return kind, notify.success_message(record, dashboard)
        if kind == "stopped":
            return kind, notify.stopped_message(record, dashboard)
        return kind, notify.rollback_message(record, dashboard)
