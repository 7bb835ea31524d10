"""Test harness: an isolated Airflow home (temp dir, examples off, SQLite) for every test session.

The environment is set at import time, before anything imports airflow, because Airflow reads its
configuration once on first import.
"""

import os
import tempfile
from pathlib import Path

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs with pytest-xdist's `--dist loadgroup`: each file goes to one worker whole (its
    module-scoped kubesim, Prometheus or Airflow start once), and every test of the fault matrix's session
    (one real Airflow for all its scenarios, tests/faults/conftest.py) goes to one worker together, or the
    matrix would run once per worker. Runs before xdist's own hook, which reads the marks."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = "fault-matrix" if "fault_matrix" in item.fixturenames else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
