"""The overdue deadline alert as Airflow 3.3's triggerer runs it: CallbackTrigger imports the callback by
the path the DeadlineAlert recorded and awaits it with the alert's kwargs and the scheduler's context; the
message reaches the local Slack webhook receiver through SlackWebhookHook's async client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.triggers.callback import CallbackTrigger

from airlock.spec import parse_spec
from notifiers.slack import overdue_deadline
from operators.secrets import mask_secret

pytestmark = pytest.mark.integration


def _spec(slack: str | None = "slack_test") -> Any:
    return parse_spec(
        {
            "service": "checkout",
            "image": "registry.local/checkout",
            "notify": {"slack_connection": slack},
        }
    )


def _context(version: str) -> dict[str, Any]:
    return {
        "dag_run": {
            "dag_run_id": "manual__2026-12-02T10:00:00+00:00",
            "dag_id": "deploy_checkout",
            "queued_at": "2026-12-02T10:00:01Z",
            "state": "running",
            "conf": {"version": version},
        },
        "deadline": {"id": "0193", "deadline_time": "2026-12-02T10:47:01Z"},
    }


def _run_callback_trigger(spec: Any, context: dict[str, Any]) -> list[dict[str, Any]]:
    alert = overdue_deadline(spec)
    trigger = CallbackTrigger(
        callback_path=alert.callback.path, callback_kwargs={**alert.callback.kwargs, "context": context}
    )

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


def test_overdue_alert_reaches_slack_escaped_and_masked(
    airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    mask_secret("hunter2-token")
    payloads = _run_callback_trigger(_spec(), _context("v1.4.0 <!here> hunter2-token"))

    assert [p["state"] for p in payloads] == ["running", "success"], payloads
    (posted,) = slack_receiver.messages
    assert posted["text"].startswith(
        "⏰ checkout v1.4.0 &lt;!here&gt; ***: deployment run manual__2026-12-02T10:00:00+00:00 is still "
        "running past its expected duration ("
    )
    assert "hunter2-token" not in json.dumps(posted)


def test_slack_down_is_logged_and_the_callback_still_succeeds(
    airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    slack_receiver.stop()
    payloads = _run_callback_trigger(_spec(), _context("v1.4.0"))
    assert [p["state"] for p in payloads] == ["running", "success"], payloads
