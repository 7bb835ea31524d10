"""People in the loop, driven over Airflow's public REST API as a person in the UI would.

A person logs in (SimpleAuthManager: `person(stack, "alice")`), lists the run's *Required actions*
(`required_actions`), reads a question (`question`) and answers it (`answer`: the same PATCH the UI's
Required actions page sends). `try_answer` returns the raw response, to show that someone who is not
an approver gets 403.

The people of the stack: `PEOPLE` (name -> SimpleAuthManager role), set by the fault matrix's session in
`AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS` (`simple_auth_users()`); the API server generates their
passwords into `$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated` when it starts.

`PEOPLE_SCENARIOS`: every people-in-the-loop scenario of the matrix (approvals, and the canary's holds,
pauses and controls when tests/faults/people_canary.py exists), computed on first use so that those
modules can import the helpers above from here in any import order.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import TYPE_CHECKING, Any

import requests

from tests.faults.matrix import PatientAPI

if TYPE_CHECKING:
    from tests.faults.matrix import Driver, Scenario

# user -> SimpleAuthManager role. alice and bob approve; carol may use Airflow (role USER: she can
# trigger runs and answer questions in general) but is named as approver nowhere, so a question
# assigned to alice and bob refuses her (403); dave is a hotfix approver.
PEOPLE: dict[str, str] = {"alice": "user", "bob": "user", "carol": "user", "dave": "user"}
APPROVERS = ["alice", "bob"]
HOTFIX_APPROVERS = ["dave"]
NOT_AN_APPROVER = "carol"

AWAITING_INPUT = "awaiting_input"


def simple_auth_users(people: dict[str, str] | None = None) -> str:
    """The value of AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: admin (the harness) plus the people."""
    everyone = {"admin": "admin", **(PEOPLE if people is None else people)}
    return ",".join(f"{name}:{role}" for name, role in everyone.items())


def password_of(stack: Any, name: str, timeout: float = 60) -> str:
    """A person's password, as the API server generated it at start (it writes the file once)."""
    path = stack.airflow_home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + timeout
    while True:
        try:
            passwords = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):  # being rewritten by the API server right now
            passwords = {}
        if name in passwords:
            return str(passwords[name])
        if time.monotonic() > deadline:
            raise KeyError(
                f"no password for {name!r} in {path} (users: {sorted(passwords)}); is it in "
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS?"
            )
        time.sleep(1)


def person(stack: Any, name: str) -> PatientAPI:
    """A REST client logged in as `name` (POST /auth/token with their password), as they would log in."""
    assert stack.api is not None
    return PatientAPI(stack.api.base_url, name, password_of(stack, name))


def _hitl_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    return f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails"


def required_actions(
    api: PatientAPI, dag_id: str, run_id: str, pending_only: bool = True
) -> list[dict[str, Any]]:
    """The run's questions, as the UI's Required actions page lists them (GET .../hitlDetails)."""
    params: dict[str, Any] = {"limit": 100}
    if pending_only:
        params["response_received"] = "false"
    data = api.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/hitlDetails", params=params).json()
    return list(data.get("hitl_details", []))


def question(api: PatientAPI, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    """One task's question: subject, body, options, defaults, assigned_users, and the answer if given."""
    return dict(api.request("GET", _hitl_path(dag_id, run_id, task_id)).json())


def try_answer(
    api: PatientAPI, dag_id: str, run_id: str, task_id: str, choice: str, comment: str = ""
) -> requests.Response:
    """PATCH the answer as the UI does; the raw response (200, or 403 for someone not assigned, 409 when
    it was answered already)."""
    api._auth()  # noqa: SLF001 - the same login request() does, without its raise on >= 400
    return api.session.patch(
        f"{api.base_url}/api/v2{_hitl_path(dag_id, run_id, task_id)}",
        json={"chosen_options": [choice], "params_input": {"comment": comment or None}},
        timeout=60,
    )


def answer(
    api: PatientAPI, dag_id: str, run_id: str, task_id: str, choice: str, comment: str = ""
) -> dict[str, Any]:
    """Answer a question; raises with Airflow's reason when it refuses."""
    response = try_answer(api, dag_id, run_id, task_id, choice, comment)
    if response.status_code != 200:
        raise requests.HTTPError(
            f"answering {task_id} with {choice!r} as {api._username}: {response.status_code} "  # noqa: SLF001
            f"{response.text[:300]}",
            response=response,
        )
    return dict(response.json())


def wait_for_question(d: Driver, task_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Wait until `task_id` asks (awaiting input), then read its question as the admin."""
    if timeout is None:
        d.wait_task(task_id, (AWAITING_INPUT,))
    else:
        d.wait_task(task_id, (AWAITING_INPUT,), timeout=timeout)
    return question(d.api, d.scenario.dag_id, d.run_id, task_id)


def _optional(module: str, name: str) -> list[Scenario]:
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module exists but something it imports does not: a real error
            raise
        return []
    return list(getattr(found, name))


def people_scenarios() -> list[Scenario]:
    return [
        *_optional("tests.faults.people_approvals", "APPROVAL_SCENARIOS"),
        *_optional("tests.faults.people_canary", "CANARY_SCENARIOS"),
        *_optional("tests.faults.people_retry", "RETRY_SCENARIOS"),
    ]


def __getattr__(name: str) -> Any:
    # PEOPLE_SCENARIOS is computed on first use: the scenario modules import the helpers above from
    # this module, so building the list at import time would be a circular import
    if name == "PEOPLE_SCENARIOS":
        return people_scenarios()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
