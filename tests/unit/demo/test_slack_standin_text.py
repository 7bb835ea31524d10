"""The demo's Slack stand-in prints a message as Slack shows it: escaped text decoded, once."""

from __future__ import annotations

from airlock.notify import start_message
from airlock.spec import parse_spec
from demo.slack_standin import message_text, shown


def test_text_is_printed_as_slack_shows_it() -> None:
    spec = parse_spec({"service": "checkout", "image": "registry.local/checkout"})
    summary = "<!channel> p99 > 200 ms & rising; literally &lt;"
    message = start_message(spec, version="v2", strategy="rolling", change_summary=summary)

    assert "&lt;!channel&gt;" in message["text"], "what is posted is escaped"
    assert message_text(message).splitlines()[0].endswith(f"Changes: {summary}")
    assert shown("&amp;lt;") == "&lt;", "decoded once, like Slack"
