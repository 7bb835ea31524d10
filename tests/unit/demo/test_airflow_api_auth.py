"""The demo's REST client authenticates on first use whatever the clock says, and again after a 401.

A machine booted a minute ago has time.monotonic() near zero; a "0.0 means never" sentinel made the
client skip authentication for the first 30 minutes after boot (every call answered 401).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from demo import airflow_api
from demo.airflow_api import AirflowAPI


class _FakeAirflow(BaseHTTPRequestHandler):
    tokens_issued = 0
    valid_token = "t1"

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).tokens_issued += 1
        self._json(201, {"access_token": type(self).valid_token})

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != f"Bearer {type(self).valid_token}":
            self._json(401, {"detail": "Not authenticated"})
        else:
            self._json(200, {"dag_id": "x"})


@pytest.fixture
def fake_airflow() -> Iterator[str]:
    _FakeAirflow.tokens_issued = 0
    _FakeAirflow.valid_token = "t1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAirflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("clock", [0.0, 5.0, 60.0, 1799.0, 1_000_000.0])
def test_first_call_authenticates_whatever_the_monotonic_clock(monkeypatch, fake_airflow, clock) -> None:
    monkeypatch.setattr(airflow_api.time, "monotonic", lambda: clock)
    api = AirflowAPI(fake_airflow, "admin", "pw")
    assert api.dag("x") == {"dag_id": "x"}
    assert _FakeAirflow.tokens_issued == 1


def test_a_401_re_authenticates_once(monkeypatch, fake_airflow) -> None:
    monkeypatch.setattr(airflow_api.time, "monotonic", lambda: 10.0)
    api = AirflowAPI(fake_airflow, "admin", "pw")
    api.dag("x")
    _FakeAirflow.valid_token = "t2"  # e.g. the api-server restarted with a new signing key
    assert api.dag("x") == {"dag_id": "x"}
    assert _FakeAirflow.tokens_issued == 2
