"""Test harness: an isolated Airflow home (temp dir, examples off, SQLite) for every test session.

The environment is set at import time, before anything imports airflow, because Airflow reads its
configuration once on first import.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="airlock-test-airflow-")

os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# dag.test() runs triggers inline (no scheduler, so no stale-event race to guard against)
os.environ.setdefault("AIRLOCK_TRIGGER_MIN_DEFERRAL_SECONDS", "0")

pytest_plugins = [
    "tests.fixtures.airflow",
    "tests.fixtures.kubesim",
    "tests.fixtures.prometheus",
    "tests.fixtures.alertmanager",
    "tests.fixtures.fake_apis",
    "tests.fixtures.slack_receiver",
    "tests.fixtures.summary",
]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs with pytest-xdist's `--dist loadfile`: each file goes to one worker whole, so its
    module-scoped kubesim, Prometheus or Airflow start once. Here tests/faults is one unit too: the fault
    matrix's session (one real Airflow for all its scenarios, tests/faults/conftest.py) serves two files,
    and split across workers it would run once per worker. (xdist's `loadgroup` cannot do this on pytest 9:
    it renames node ids through an attribute pytest no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileOrFaultMatrix(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/faults/" if path.startswith("tests/faults/") else path

    return FileOrFaultMatrix(config, log)


def pytest_runtest_makereport(item, call):
    """In CI (AIRLOCK_REQUIRE_TOOLS=1) a skipped test is a failure: tools must be there, not skipped.

    Locally a missing kubectl/prometheus skips the tests that need it; .ci/run sets the variable so
    the same skip turns into a loud failure instead of a silent pass.
    """
    if os.environ.get("AIRLOCK_REQUIRE_TOOLS") != "1":
        return None
    import pytest
    from _pytest.reports import TestReport

    report = TestReport.from_item_and_call(item, call)
    if report.skipped and call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every required tool must be present: {call.excinfo.value}"
    return report
