"""The pre-flight operator's I/O from connections: HttpHook sessions per connection; the registry's has no
session-wide basic auth (its check trades the credentials for a bearer token), the others keep it."""

from __future__ import annotations

from typing import Any

import pytest
from requests.auth import HTTPBasicAuth

from airlock.spec import parse_spec
from operators.preflight import AirflowPreflightIO

pytestmark = pytest.mark.integration


def test_registry_credentials_are_left_to_the_check_others_are_basic_auth(airflow_connections: Any) -> None:
    creds = {"conn_type": "http", "host": "http://127.0.0.1:9", "login": "deployer", "password": "s3cret"}
    airflow_connections("registry_creds", creds)
    airflow_connections("am_behind_auth", creds)
    spec = parse_spec(
        {
            "service": "payments",
            "image": "registry.example.com/payments/api",
            "gates": {
                "registry": {"connection": "registry_creds"},
                "incidents": {"connection": "am_behind_auth", "matchers": ['severity="critical"']},
            },
        }
    )
    io = AirflowPreflightIO(spec)
    registry, alertmanager = io.http("registry_creds"), io.http("am_behind_auth")
    assert registry.session.auth is None  # type: ignore[attr-defined]
    assert (registry.login, registry.password) == ("deployer", "s3cret")
    auth = alertmanager.session.auth  # type: ignore[attr-defined]
    assert isinstance(auth, HTTPBasicAuth) and (auth.username, auth.password) == ("deployer", "s3cret")
    assert io.http("am_behind_auth") is alertmanager  # one endpoint per connection
