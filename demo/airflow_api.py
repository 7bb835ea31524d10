"""The slice of Airflow's public REST API (v2) that the demo and the e2e tests drive, as users do."""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL_RUN_STATES = {"success", "failed"}


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self._username, self._password = username, password
        # None = no token yet. Never a 0.0 sentinel: time.monotonic() counts from boot, so on a machine
        # booted less than the refresh age ago "0.0" would read as "a fresh token" and never authenticate.
        self._token_at: float | None = None

    def _auth(self, force: bool = False) -> None:
        # JWTs from /auth/token expire (24 h default); refresh well before that
        if not force and self._token_at is not None and time.monotonic() - self._token_at < 1800:
            return
        response = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": self._username, "password": self._password},
            timeout=30,
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self._token_at = time.monotonic()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self._auth()
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, f"{self.base_url}/api/v2{path}", **kwargs)
        if response.status_code == 401:
            # the token expired or the server restarted with a new signing key: authenticate once more
            self._auth(force=True)
            response = self.session.request(method, f"{self.base_url}/api/v2{path}", **kwargs)
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"{method} {path} -> {response.status_code}: {response.text[:500]}", response=response
            )
        return response

    def health(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=10).json())

    def dag(self, dag_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/dags/{dag_id}").json())

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dag(dag_id)
            except requests.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/importErrors").json().get("import_errors", []))

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        return dict(self.request("POST", f"/dags/{dag_id}/dagRuns", json=body).json())

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json())

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.request(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500}
        ).json()
        return list(data.get("task_instances", []))

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        try:
            response = self.request(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                params={"deserialize": "true", "stringify": "false"},
            )
        except requests.HTTPError:
            return None
        return response.json().get("value")

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        response = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = response.json().get("content")
        if isinstance(content, list):  # structured log: a list of events
            return "\n".join(str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content)
        return str(content)
