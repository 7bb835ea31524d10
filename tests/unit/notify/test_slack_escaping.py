"""Slack text is escaped: what a person, an app or a log line wrote cannot ping a channel or dress up a link."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from airlock.notify import (
    failure_message,
    rollback_message,
    slack_escape,
    start_message,
    stopped_message,
    success_message,
)
from airlock.spec import parse_spec
from tests.unit.notify.test_messages import _record as record_for

HOSTILE = (
    "<!channel> <!here> <@U024BE7LH> <#C0123|general> <!subteam^S01|@sre> <http://evil.example|docs> R&D"
)
DASHBOARD = "https://grafana.example/d/checkout?from=now-1h&to=now"
NO_CHECKS = {"preflight": [], "health": None, "smoke": None, "log_scan": None, "metrics": {}}
OUR_LINK = "<https://grafana.example/d/checkout?from=now-1h&amp;to=now|Dashboard>"


def _spec() -> Any:
    return parse_spec(
        {
            "service": "checkout",
            "image": "registry.local/checkout",
            "owners": ["@payments-team"],
            "metrics": {"dashboard": DASHBOARD},
        }
    )


def _record(outcome: str, **extra: Any) -> dict[str, Any]:
    """test_messages' record, with hostile text wherever a person or an app wrote it."""
    return record_for(
        outcome,
        reason=f"task smoke failed: GET /health answered {HOSTILE}",
        triggered_by=f"mallory {HOSTILE}",
        change_summary=HOSTILE,
        **extra,
    )


def _texts(message: dict[str, Any]) -> list[str]:
    """Every text Slack renders: the fallback `text` and each block's text."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(message)
    return found


def _messages() -> dict[str, dict[str, Any]]:
    rollback = {
        "healthy": True,
        "noop": False,
        "reason": f"canary failed {HOSTILE}",
        "actions": [f"deleted canary {HOSTILE}"],
        "evidence": {"logs": {"checkout-canary-1": [f"panic: {HOSTILE}"]}, "events": [HOSTILE]},
    }
    return {
        "start": start_message(
            _spec(), version="v1.4.0", strategy="canary", change_summary=HOSTILE, run_id=f"manual__{HOSTILE}"
        ),
        # without metric verdicts the success message is the summary, which names who triggered the run
        "success": success_message(_record("succeeded", checks=NO_CHECKS), DASHBOARD),
        "rollback": rollback_message(_record("rolled_back", rollback=rollback), DASHBOARD),
        "stopped": stopped_message(
            _record("failed", stopped_in="staging", production_changed=False), DASHBOARD
        ),
        "failure": failure_message(
            service="checkout",
            dag_id="deploy_checkout",
            task_id="validation.smoke",
            run_id="manual__1",
            error=f"smoke test failed: {HOSTILE}",
            dashboard=DASHBOARD,
        ),
    }


@pytest.mark.parametrize("kind", ["start", "success", "rollback", "stopped", "failure"])
def test_user_text_cannot_mention_or_link(kind: str) -> None:
    message = _messages()[kind]
    texts = _texts(message)
    assert any("&lt;!channel&gt;" in t for t in texts), (kind, texts)
    for text in texts:
        # the only Slack markup with angle brackets is Airlock's own dashboard link
        assert set(re.findall(r"<[^<>]*>", text)) <= {OUR_LINK}, (kind, text)
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), f"a bare & in {text!r}"
    assert OUR_LINK in json.dumps(message), "the dashboard link still works, its & escaped"


def test_escape_is_slacks_three_entities_and_nothing_else() -> None:
    assert slack_escape("a & b < c > d *bold* _it_ `code` @here") == (
        "a &amp; b &lt; c &gt; d *bold* _it_ `code` @here"
    )
    assert slack_escape("&lt;") == "&amp;lt;", "text that looks escaped is shown as typed"


def test_clipping_never_leaves_half_an_entity() -> None:
    message = start_message(_spec(), version="v1.4.0", strategy="canary", change_summary="<" * 5000)
    body = message["blocks"][-2]["text"]["text"]
    assert body.endswith("&lt;…") and len(body) <= 2900
    assert message["text"].endswith("&lt;…") and len(message["text"]) <= 3000
