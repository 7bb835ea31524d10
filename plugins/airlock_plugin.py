"""Airlock's Airflow plugin: the release-train timetable and the Dashboard extra link.

This is the only file the plugin loader should execute; the library packages next to it (airlock/,
operators/, timetables/, ...) are imported from here by their package paths, so the registered
classes are the same objects the DAGs use (plugins/ is on sys.path in every Airflow process).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from operators.links import DashboardLink
from timetables.release_train import ReleaseTrainTimetable


class AirlockPlugin(AirflowPlugin):
    name = "airlock"
    timetables = [ReleaseTrainTimetable]
    # Links are carried by the operators themselves (DashboardLinkMixin); listing the class here makes
    # it known to the plugin manager as well, as the serializer consults registered links.
    operator_extra_links = [DashboardLink()]
