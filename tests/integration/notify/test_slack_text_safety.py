"""What reaches the Slack webhook (the local receiver, through the slack provider's SlackWebhookHook): user
text escaped, and no secret Airflow masks - even one quoted in an error message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airlock.notify import failure_message, start_message
from airlock.spec import parse_spec
from operators.notify import send_slack
from operators.secrets import mask_secret

pytestmark = pytest.mark.integration

HOSTILE = "<!channel> <@U024BE7LH> <http://evil.example|docs> & co"


def _spec() -> Any:
    return parse_spec(
        {
            "service": "checkout",
            "image": "registry.local/checkout",
            "notify": {"slack_connection": "slack_test"},
        }
    )


def test_a_change_summary_cannot_ping_the_channel(airflow_connections: Any, slack_receiver: Any) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    spec = _spec()
    message = start_message(spec, version="v1.4.0", strategy="rolling", change_summary=HOSTILE)

    assert send_slack(spec, message, logging.getLogger("test"))

    (posted,) = slack_receiver.messages
    assert posted["text"].endswith(
        "Changes: &lt;!channel&gt; &lt;@U024BE7LH&gt; &lt;http://evil.example|docs&gt; &amp; co"
    )
    assert "<!channel>" not in str(posted) and "<http://evil" not in str(posted)


def test_a_masked_secret_in_an_error_never_reaches_slack(
    airflow_connections: Any, slack_receiver: Any
) -> None:
    secret = "tok-8c1f2e9a7b"
    mask_secret(secret)  # what Airflow does with every connection password a task reads
    airflow_connections("slack_test", slack_receiver.connection())
    spec = _spec()
    message = failure_message(
        service="checkout",
        dag_id="deploy_checkout",
        task_id="record",
        run_id="r1",
        error=f"401 Unauthorized for url: https://api.example/auth?token={secret}",
    )
    assert secret in str(message), "the builder quotes the error as it is"

    assert send_slack(spec, message, logging.getLogger("test"))

    (posted,) = slack_receiver.messages
    assert secret not in str(posted) and "token=***" in posted["text"], posted["text"]


@pytest.mark.parametrize("outage", ["down", "answers 500"])
def test_a_failed_post_does_not_echo_the_webhook(
    outage: str, airflow_connections: Any, slack_receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = "hook-2b7e151628aed2a6"
    airflow_connections(
        "slack_test",
        {"conn_type": "slackwebhook", "password": slack_receiver.url.rsplit("/", 1)[0] + f"/{token}"},
    )
    if outage == "down":
        slack_receiver.stop()
    else:
        slack_receiver.status = 500
    spec = _spec()
    caplog.set_level(logging.INFO)

    sent = send_slack(spec, start_message(spec, version="v1.4.0", strategy="rolling"), logging.getLogger("t"))

    assert sent is False
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING and r.name == "t")
    assert "failed; the deployment goes on regardless" in warning.getMessage()
    assert token not in caplog.text, caplog.text
