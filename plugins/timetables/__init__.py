"""Airflow timetables for Airlock (registered by plugins/airlock_plugin.py)."""
