"""kubesim's fault kinds for the retry tests: a status with Retry-After, a connection reset, and faults
that strike after the request was handled (the write applied, the answer replaced, held or lost)."""

from __future__ import annotations

import time

import pytest
import requests

from kubesim.faults import fault_from_dict

CM = "/api/v1/namespaces/default/configmaps"


def create(url: str, name: str, timeout: float = 5) -> requests.Response:
    return requests.post(f"{url}{CM}", json={"metadata": {"name": name}, "data": {"k": "v"}}, timeout=timeout)


def exists(url: str, name: str) -> bool:
    return requests.get(f"{url}{CM}/{name}", timeout=5).status_code == 200


def test_status_with_retry_after(kubesim):
    kubesim.inject_fault(method="GET", path="/version", status=429, retry_after=3)
    kubesim.inject_fault(
        method="GET", path="/version", status=503, retry_after="Wed, 02 Dec 2026 07:00:07 GMT"
    )
    kubesim.inject_fault(method="GET", path="/version", status=429)
    answers = [requests.get(f"{kubesim.url}/version", timeout=5) for _ in range(4)]
    assert [(r.status_code, r.headers.get("Retry-After")) for r in answers] == [
        (429, "3"),
        (503, "Wed, 02 Dec 2026 07:00:07 GMT"),
        (429, "1"),
        (200, None),
    ]
    assert answers[1].json()["reason"] == "ServiceUnavailable"


def test_reset_before_handling_applies_nothing(kubesim):
    kubesim.inject_fault(method="POST", path=CM, reset=True)
    with pytest.raises(requests.ConnectionError, match="reset by peer"):
        create(kubesim.url, "a")
    assert not exists(kubesim.url, "a")
    assert [(a["status"], a.get("fault")) for a in kubesim.audit()] == [(0, "reset")]
    assert create(kubesim.url, "a").status_code == 201, "the next request is served"


def test_reset_after_handling_applies_the_write_and_loses_the_answer(kubesim):
    kubesim.inject_fault(method="POST", path=CM, reset=True, after=True)
    with pytest.raises(requests.ConnectionError, match="reset by peer"):
        create(kubesim.url, "a")
    assert exists(kubesim.url, "a")
    assert create(kubesim.url, "a").status_code == 409, "a retry finds what the lost attempt created"
    assert [(a["status"], a.get("fault")) for a in kubesim.audit()] == [
        (201, "after handling: reset"),
        (409, None),
    ]


def test_status_after_handling_applies_the_write_and_answers_the_fault(kubesim):
    kubesim.inject_fault(method="POST", path=CM, status=503, after=True)
    r = create(kubesim.url, "a")
    assert r.status_code == 503 and r.json()["message"] == "kubesim: injected fault (503)"
    assert exists(kubesim.url, "a")
    assert kubesim.audit()[0]["status"] == 201 and kubesim.audit()[0]["fault"] == "after handling: status 503"


def test_a_hung_answer_after_handling(kubesim):
    kubesim.inject_fault(method="POST", path=CM, delay=1.0, after=True)
    start = time.monotonic()
    with pytest.raises(requests.Timeout):
        create(kubesim.url, "a", timeout=0.3)
    assert time.monotonic() - start < 1.0
    assert exists(kubesim.url, "a"), "applied before the answer was held back"


def test_a_hung_request_before_handling_is_applied_only_when_it_wakes(kubesim):
    kubesim.inject_fault(method="POST", path=CM, delay=0.6)
    with pytest.raises(requests.Timeout):
        create(kubesim.url, "a", timeout=0.2)
    assert not exists(kubesim.url, "a")
    time.sleep(0.7)
    assert exists(kubesim.url, "a")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"path": "/x"}, "needs status, delay, reset or drop_watch"),
        ({"status": 503, "reset": True}, "cannot have a status"),
        ({"reset": True, "retry_after": 1}, "retry_after goes with a status"),
        ({"drop_watch": True, "after": True}, "not to watch streams"),
        ({"status": 503, "when": "later"}, "unknown fault fields"),
    ],
)
def test_fault_validation(raw, error):
    with pytest.raises(ValueError, match=error):
        fault_from_dict(raw)


def test_new_kinds_over_the_admin_endpoint(kubesim):
    r = requests.post(
        f"{kubesim.url}/_sim/faults",
        json=[
            {"method": "POST", "path": CM, "reset": True, "after": True},
            {"path": "/version", "status": 429, "retry_after": "0"},
        ],
        timeout=5,
    )
    assert r.status_code == 201
    assert [(f["reset"], f["after"], f["retry_after"]) for f in r.json()["pending"]] == [
        (True, True, None),
        (False, False, "0"),
    ]
    assert requests.get(f"{kubesim.url}/version", timeout=5).headers["Retry-After"] == "0"
