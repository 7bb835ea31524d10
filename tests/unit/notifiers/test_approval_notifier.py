"""ApprovalNeededNotifier: the message a human-in-the-loop task sends when it asks (no Slack involved)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from airlock.spec import parse_spec
from notifiers.slack import ApprovalNeededNotifier


def test_reads_the_question_from_the_asking_task() -> None:
    spec = parse_spec(
        {"service": "web", "image": "registry.local/web", "notify": {"slack_connection": "slack_test"}}
    )
    task = SimpleNamespace(
        subject="Approve web 2.0.0: production?",
        gate="before_production",
        assigned_users=[{"id": "alice", "name": "alice"}],
        response_timeout=timedelta(seconds=20),
        defaults=["Reject"],
    )
    ti = SimpleNamespace(run_id="manual__1", dag_id="deploy_web", task_id="approval.before_production")
    message = ApprovalNeededNotifier.for_spec(spec).message({"task": task, "ti": ti, "task_instance": ti})
    assert message is not None
    # the task is no HITLOperator here, so there is no Required actions link: the text says where anyway
    assert message["text"] == (
        "✋ web: approval before production needed - Approve web 2.0.0: production? Answer in Airflow's "
        "Required actions (alice; no answer within 20s: Reject)."
    )
