# The fakes and the real-Alertmanager fixture (also importable from other test packages this way).
from tests.fixtures.alertmanager import alertmanager  # noqa: F401
from tests.fixtures.fake_apis import fake_backup, fake_github, fake_registry, slack_receiver  # noqa: F401
from tests.fixtures.kubesim import kube_client, kubesim, kubesim_scenario, pytest_configure  # noqa: F401
