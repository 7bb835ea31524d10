"""Until tests/conftest.py lists tests.fixtures.kubesim in pytest_plugins, import its fixtures here."""

from tests.fixtures.kubesim import kube_client, kubesim, kubesim_scenario, pytest_configure  # noqa: F401
from tests.fixtures.prometheus import prometheus_factory  # noqa: F401, E402
