"""Airflow notifiers (airflow.sdk BaseNotifier) for Airlock's Slack messages."""
