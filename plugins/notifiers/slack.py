"""Slack notifiers: `BaseNotifier`s that send airlock.notify's messages through the slack provider's
SlackWebhookHook (connection type `slackwebhook`).

- `TaskFailureNotifier`: a task's `on_failure_callback` (sync, on the worker): which task failed, why.
- `DeploymentOverdueNotifier`: the DAG's deadline alert (async, in the triggerer, see `overdue_deadline`):
  the run is still going past the spec's expected duration.
- `ApprovalNeededNotifier`: a human-in-the-loop task's notifier (sync, on the worker, called by
  HITLOperator.execute when the question is asked): what is asked, who may answer, the link to
  Airflow's Required actions and what the timeout does.

A Slack failure never fails or blocks anything: a send catches, logs a warning and returns False. Every
secret Airflow masks in logs is masked in the message too (operators.secrets.masked); escaping is the
builders' (airlock.notify.slack_escape). No connection (`notify.slack_connection` null) = off, logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# exported by airflow.sdk at run time; its type stub (__init__.pyi, task-sdk 1.3.2) does not list them yet
from airflow.sdk import AsyncCallback, BaseNotifier, Context, DeadlineAlert, DeadlineReference  # type: ignore[attr-defined]

from airlock import notify
from airlock.spec import ServiceSpec
from operators.secrets import masked

SEND_TIMEOUT_S = 10
Message = dict[str, Any]


def _hook(conn_id: str) -> Any:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook  # lazy: slack_sdk at send time

    return SlackWebhookHook(slack_webhook_conn_id=conn_id, timeout=SEND_TIMEOUT_S)


def _off(conn_id: str | None, service: str, log: Any) -> bool:
    if conn_id:
        return False
    log.info("Slack notifications are off for %s (notify.slack_connection is not set).", service)
    return True


def post(conn_id: str | None, service: str, message: Message, log: Any) -> bool:
    """Post `message` to the webhook connection; True when Slack accepted it. Never raises."""
    if _off(conn_id, service, log):
        return False
    message = masked(message)
    try:
        _hook(str(conn_id)).send_dict(message)
    except Exception as exc:
        log.warning("Slack notification via %r failed; the deployment goes on regardless: %s", conn_id, exc)
        return False
    log.info("Slack notification sent via %r: %s", conn_id, str(message.get("text", ""))[:200])
    return True


async def apost(conn_id: str | None, service: str, message: Message, log: Any) -> bool:
    """`post` without blocking the triggerer's event loop (SlackWebhookHook.async_send_dict)."""
    if _off(conn_id, service, log):
        return False
    message = masked(message)
    try:
        await _hook(str(conn_id)).async_send_dict(message)
    except Exception as exc:
        log.warning("Slack notification via %r failed: %s", conn_id, exc)
        return False
    log.info("Slack notification sent via %r: %s", conn_id, str(message.get("text", ""))[:200])
    return True


class DeploymentNotifier(BaseNotifier):
    """A message about one service's deployment: `message(context)` builds it (None = nothing to say);
    `notify` / `async_notify` send it. Building or sending never raises: a notification must not change
    what happens to the deployment."""

    def __init__(
        self,
        *,
        service: str,
        slack_connection: str | None,
        dashboard: str = "",
        context: Context | None = None,
    ) -> None:
        super().__init__(context)
        self.service = service
        self.slack_connection = slack_connection
        self.dashboard = dashboard

    @classmethod
    def for_spec(cls, spec: ServiceSpec, **kwargs: Any) -> Any:
        return cls(
            service=spec.service,
            slack_connection=spec.notify.slack_connection,
            dashboard=spec.metrics.dashboard or "",
            **kwargs,
        )

    def message(self, context: Any) -> Message | None:
        raise NotImplementedError

    def _built(self, context: Any) -> Message | None:
        try:
            return self.message(context)
        except Exception as exc:
            self.log.warning("Could not build the %s notification: %s", type(self).__name__, exc)
            return None

    def notify(self, context: Any) -> None:
        message = self._built(context)
        if message is not None:
            post(self.slack_connection, self.service, message, self.log)

    async def async_notify(self, context: Any) -> None:
        message = self._built(context)
        if message is not None:
            await apost(self.slack_connection, self.service, message, self.log)


class TaskFailureNotifier(DeploymentNotifier):
    """`on_failure_callback`: which task of which run failed, and the error's first lines."""

    def message(self, context: Any) -> Message | None:
        ti = context["ti"]
        error = context.get("exception")
        return notify.failure_message(
            service=self.service,
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            error=str(error) if error else "",
            dashboard=self.dashboard,
        )


class ApprovalNeededNotifier(DeploymentNotifier):
    """Given to a human-in-the-loop task (`notifiers=`); it reads the question from the task itself (the
    subject, assigned users, timeout and default are set when the question is asked)."""

    def message(self, context: Any) -> Message | None:
        task, ti = context["task"], context["ti"]
        defaults = list(getattr(task, "defaults", None) or [])
        return notify.approval_needed_message(
            service=self.service,
            subject=str(task.subject),
            question=_question_title(task),
            run_id=str(ti.run_id),
            approvers=[
                str(u.get("name") or u.get("id")) for u in getattr(task, "assigned_users", None) or []
            ],
            timeout=getattr(task, "response_timeout", None),
            timeout_option=", ".join(defaults) or "none (the task fails)",
            link=_required_actions_link(context, self.log),
        )


def _question_title(task: Any) -> str:
    from airlock.people import GATE_TITLES

    gate = getattr(task, "gate", None)
    return GATE_TITLES.get(str(gate), "an answer") if gate else "an answer"


def _required_actions_link(context: Any, log: Any) -> str:
    """The task's Required actions page in the Airflow UI (needs `[api] base_url`); "" when unknown."""
    try:
        from airflow.providers.standard.operators.hitl import HITLOperator

        return str(HITLOperator.generate_link_to_ui_from_context(context=context))
    except Exception as exc:
        log.info("No link to the Required actions page in the Slack message: %s", exc)
        return ""


class DeploymentOverdueNotifier(DeploymentNotifier):
    """The deadline alert's callback. Airflow 3.3 calls it in the triggerer as
    `await DeploymentOverdueNotifier(**kwargs, context=context)` where the context holds the run
    (`dag_run`: the REST API's DAG run) and the deadline; kwargs are the JSON `overdue_deadline` gives."""

    def __init__(
        self,
        *,
        service: str,
        slack_connection: str | None,
        expected_s: float,
        waits_for_windows: bool = False,
        dashboard: str = "",
        context: Context | None = None,
    ) -> None:
        super().__init__(
            service=service, slack_connection=slack_connection, dashboard=dashboard, context=context
        )
        self.expected_s = expected_s
        self.waits_for_windows = waits_for_windows

    def message(self, context: Any) -> Message | None:
        run = context.get("dag_run") or {}
        conf = run.get("conf") or {}
        return notify.overdue_message(
            service=self.service,
            dag_id=str(run.get("dag_id") or ""),
            run_id=str(run.get("dag_run_id") or run.get("run_id") or ""),
            version=str(conf.get("version") or "") if isinstance(conf, dict) else "",
            expected=timedelta(seconds=self.expected_s),
            queued_at=str(run.get("queued_at") or ""),
            waits_for_windows=self.waits_for_windows,
            dashboard=self.dashboard,
        )


def overdue_deadline(spec: ServiceSpec) -> DeadlineAlert:
    """The DAG's deadline alert: Slack is told when a run is still going `notify.overdue_after(spec)` after
    it was queued. Off (no alert at all) is decided by the caller: without a Slack connection there is
    nobody to tell."""
    expected = notify.overdue_after(spec)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=expected,
        callback=AsyncCallback(
            DeploymentOverdueNotifier,
            kwargs={
                "service": spec.service,
                "slack_connection": spec.notify.slack_connection,
                "expected_s": expected.total_seconds(),
                "waits_for_windows": bool(spec.windows.off_peak),
                "dashboard": spec.metrics.dashboard or "",
            },
        ),
        name=f"{spec.service} overdue",
    )
