"""The Slack notifiers' messages (no Slack involved): failure callback, overdue deadline alert, and the
DeadlineAlert the DAG gets."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from airlock.notify import overdue_after
from airlock.spec import parse_spec
from notifiers.slack import DeploymentOverdueNotifier, TaskFailureNotifier, overdue_deadline

HOSTILE = "<!channel> & <http://evil.example|docs>"


def _spec(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "service": "checkout",
        "image": "registry.local/checkout",
        "metrics": {"dashboard": "https://grafana.example/d/checkout"},
        "notify": {"slack_connection": "slack_test"},
    }
    data.update(overrides)
    return parse_spec(data)


def _deadline_context(conf: dict[str, Any]) -> dict[str, Any]:
    """What Airflow 3.3's scheduler hands a deadline callback (models/deadline.py get_simple_context)."""
    return {
        "dag_run": {
            "dag_run_id": "manual__2026-12-02T10:00:00+00:00",
            "dag_id": "deploy_checkout",
            "queued_at": "2026-12-02T10:00:01Z",
            "state": "running",
            "conf": conf,
        },
        "deadline": {"id": "0193", "deadline_time": "2026-12-02T10:47:01Z"},
    }


def test_failure_message_names_task_run_and_error_escaped() -> None:
    notifier = TaskFailureNotifier.for_spec(_spec())
    ti = SimpleNamespace(dag_id="deploy_checkout", task_id="rollback", run_id="manual__1")
    message = notifier.message({"ti": ti, "exception": RuntimeError(f"restore failed: {HOSTILE}")})
    assert message is not None
    assert message["text"] == (
        "❌ checkout: task rollback failed in deploy_checkout run manual__1: restore failed: "
        "&lt;!channel&gt; &amp; &lt;http://evil.example|docs&gt;"
    )
    assert "https://grafana.example/d/checkout" in json.dumps(message["blocks"])


def test_overdue_message_from_the_deadline_context() -> None:
    spec = _spec()
    notifier = DeploymentOverdueNotifier(
        service="checkout", slack_connection="slack_test", expected_s=2820.0, dashboard="https://g.example"
    )
    message = notifier.message(_deadline_context({"version": f"v1.4.0 {HOSTILE}"}))
    assert message is not None
    assert message["text"] == (
        "⏰ checkout v1.4.0 &lt;!channel&gt; &amp; &lt;http://evil.example|docs&gt;: deployment run "
        "manual__2026-12-02T10:00:00+00:00 is still running past its expected duration (47m from being "
        "queued); nothing was stopped"
    )
    blocks = json.dumps(message["blocks"])
    assert "2026-12-02T10:00:01Z" in blocks and "off-peak" not in blocks
    assert spec.windows.off_peak == []


def test_overdue_message_without_conf_and_with_windows_says_the_wait_counts() -> None:
    notifier = DeploymentOverdueNotifier(
        service="checkout", slack_connection="slack_test", expected_s=600.0, waits_for_windows=True
    )
    message = notifier.message(_deadline_context({}))
    assert message is not None
    assert message["text"].startswith("⏰ checkout: deployment run manual__")
    assert "a wait for a window counts too" in json.dumps(message["blocks"])


def test_a_message_that_cannot_be_built_is_logged_not_raised(capsys: Any) -> None:
    notifier = TaskFailureNotifier.for_spec(_spec())
    notifier.notify({})  # no "ti": the builder fails; the callback must not
    out = capsys.readouterr()
    assert "Could not build the TaskFailureNotifier notification: 'ti'" in out.out + out.err


def test_overdue_after_is_the_default_strategy_eta_plus_one_rollout_timeout() -> None:
    spec = _spec(
        strategy={"default": "canary", "canary": {"steps": [10, 50, 100], "step_duration": "5m"}},
        staging={"soak": "10m"},
        metrics={"validation_window": "7m"},
    )
    # staging soak 10m + 3 canary steps x 5m + validation 7m + rollout_timeout 15m (default)
    assert overdue_after(spec) == timedelta(minutes=10 + 15 + 7 + 15)


def test_the_dag_deadline_alert_calls_the_overdue_notifier_with_json_kwargs() -> None:
    spec = _spec(windows={"off_peak": ["Mon-Fri 01:00-05:00"]})
    alert = overdue_deadline(spec)
    assert alert.interval == overdue_after(spec)
    assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline"
    assert alert.callback.path == "notifiers.slack.DeploymentOverdueNotifier"
    kwargs = json.loads(json.dumps(alert.callback.kwargs))  # must survive serialization as it is
    assert kwargs == {
        "service": "checkout",
        "slack_connection": "slack_test",
        "expected_s": overdue_after(spec).total_seconds(),
        "waits_for_windows": True,
        "dashboard": "https://grafana.example/d/checkout",
    }
    notifier = DeploymentOverdueNotifier(**kwargs, context=_deadline_context({"version": "v2"}))
    assert notifier.context["deadline"]["id"] == "0193"
