"""Fixtures of the notify integration tests (the lead may move slack_receiver into pytest_plugins)."""

from tests.fixtures.slack_receiver import slack_receiver  # noqa: F401
