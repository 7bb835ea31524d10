"""The retry policy (retry.py), pure and deterministic: what is transient, how long to wait, when to stop,
and when a 409 AlreadyExists is our own earlier create."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
import urllib3.exceptions as u3

from airlock.kube.api import KubeError, final_error
from airlock.kube.retry import (
    ONCE,
    CallAttempts,
    Failure,
    GiveUp,
    Retry,
    RetryPolicy,
    contains,
    failure_of,
    is_what_we_created,
    parse_retry_after,
)

NOW = datetime(2026, 12, 2, 7, 0, 0, tzinfo=UTC).timestamp()


# -- which failures are transient -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_transient(status):
    failure = failure_of(KubeError(status, "X", "m"))
    assert failure is not None and failure.status == status and failure.transient


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 415, 422])
def test_other_4xx_are_not(status):
    failure = failure_of(KubeError(status, "X", "m"))
    assert failure is not None and not failure.transient


def _reset() -> BaseException:
    return ConnectionResetError(104, "Connection reset by peer")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (u3.ProtocolError("Connection aborted.", _reset()), "connection broken"),
        (u3.ReadTimeoutError(None, "/x", "Read timed out. (read timeout=0.5)"), "read timed out"),  # type: ignore[arg-type]
        (u3.ConnectTimeoutError("connect timeout"), "connect timed out"),
        (u3.NewConnectionError(None, "Connection refused"), "connection failed"),  # type: ignore[arg-type]
        (u3.MaxRetryError(None, "/x", reason=u3.NewConnectionError(None, "refused")), "connection failed"),  # type: ignore[arg-type]
        (aiohttp.ServerDisconnectedError(), "server closed the connection"),
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), "read timed out"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "connection broken"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), "answer cut short"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (_reset(), "connection reset"),
        (TimeoutError("timed out"), "timed out"),  # socket.timeout and asyncio.TimeoutError since 3.11
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else "",
)
def test_failures_without_an_answer_are_transient(exc, reason):
    failure = failure_of(exc)
    assert failure is not None
    assert failure.status is None and failure.transient and failure.maybe_applied
    assert failure.reason == reason
    # the message names the exception (for MaxRetryError: the failure it wraps)
    named = type(getattr(exc, "reason", None) if isinstance(exc, u3.MaxRetryError) else exc).__name__
    assert failure.message.startswith(named + ": ")


def test_a_final_no_answer_error_is_still_no_answer():
    """What a watch's one-attempt opening raises when nothing answered: the session resumes on it."""
    failure = failure_of(KubeError(0, "connection failed", "refused", call="GET /api/v1/pods"))
    assert failure is not None and failure.status is None and failure.transient


def test_a_watch_opening_keeps_its_own_read_timeout():
    once = CallAttempts(ONCE, "GET", "/api/v1/pods", now=0.0, rand=lambda: 1.0)
    assert once.timeout((10.0, 630.0), 500.0) == (10.0, 630.0)
    assert once.timeout((10.0, None), 500.0) == (10.0, None)
    step = once.after_failure(Failure(503, "ServiceUnavailable", ""), 1.0)
    assert isinstance(step, GiveUp) and step.detail == "gave up after 1 attempt in 1.0 s"


def test_a_bug_is_not_a_failure_to_retry():
    assert failure_of(KeyError("spec")) is None
    assert failure_of(ValueError("bad json")) is None
    assert failure_of(KubeError(0, "SSLError", "certificate verify failed")) is None


def test_a_refusal_was_not_applied_but_a_5xx_may_have_been():
    assert not Failure(429, "TooManyRequests", "").maybe_applied
    assert Failure(504, "Timeout", "").maybe_applied
    assert Failure(None, "read timed out", "").maybe_applied


# -- Retry-After -----------------------------------------------------------------------------------


def test_retry_after_in_seconds():
    assert parse_retry_after("3", NOW) == 3.0
    assert parse_retry_after(" 0 ", NOW) == 0.0


def test_retry_after_as_an_http_date():
    assert parse_retry_after("Wed, 02 Dec 2026 07:00:07 GMT", NOW) == 7.0
    assert parse_retry_after("Wed, 02 Dec 2026 06:59:00 GMT", NOW) == 0.0, "a date past is now"


@pytest.mark.parametrize("value", [None, "", "soon", "-1", "1.5", "Wed, 02 Dec 2026 07:00:07"])
def test_an_unreadable_retry_after_is_ignored(value):
    assert parse_retry_after(value, NOW) is None


def test_retry_after_travels_with_the_error_and_overrides_backoff():
    failure = failure_of(KubeError(429, "TooManyRequests", "slow down", retry_after=4.0))
    assert failure is not None and failure.retry_after == 4.0
    assert RetryPolicy().delay(failure, 1, lambda: 0.0) == 4.0
    assert RetryPolicy().delay(Failure(503, "ServiceUnavailable", ""), 1, lambda: 0.0) == 0.0


# -- backoff -------------------------------------------------------------------------------------------


def test_full_jitter_spans_zero_to_the_exponential_bound():
    p = RetryPolicy(base=0.5, cap=8.0)
    bounds = [p.backoff(n, lambda: 1.0) for n in range(1, 8)]
    assert bounds == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0], "doubling, then capped"
    assert [p.backoff(n, lambda: 0.0) for n in range(1, 8)] == [0.0] * 7
    assert p.backoff(3, lambda: 0.25) == 0.5
    assert p.backoff(3, lambda: 0.999999) < 2.0
    assert p.backoff(3, lambda: 7.0) == 2.0, "a bad draw never exceeds the bound"


# -- one call's attempts -------------------------------------------------------------------------------


def attempts(policy: RetryPolicy | None = None, rand: float = 1.0) -> CallAttempts:
    return CallAttempts(
        policy or RetryPolicy(attempts=4, base=0.5, cap=8.0, deadline=60.0),
        "PATCH",
        "/apis/apps/v1/namespaces/prod/deployments/web",
        now=100.0,
        rand=lambda: rand,
    )


def test_transient_failures_are_retried_with_growing_waits_then_given_up():
    a = attempts()
    unavailable = Failure(503, "ServiceUnavailable", "etcd leader changed")
    steps = [a.after_failure(unavailable, 100.0 + t) for t in (0.1, 1.0, 2.5, 5.0)]
    assert [type(s).__name__ for s in steps] == ["Retry", "Retry", "Retry", "GiveUp"]
    assert [s.wait for s in steps[:3] if isinstance(s, Retry)] == [0.5, 1.0, 2.0]
    assert steps[0].note == (  # type: ignore[union-attr]
        "PATCH /apis/apps/v1/namespaces/prod/deployments/web failed (503 ServiceUnavailable: etcd "
        "leader changed); attempt 1 of 4, retrying in 0.5 s"
    )
    last = steps[3]
    assert isinstance(last, GiveUp)
    error = final_error(last, a.attempt)
    assert str(error) == (
        "PATCH /apis/apps/v1/namespaces/prod/deployments/web: 503 ServiceUnavailable: etcd leader "
        "changed (gave up after 4 attempts in 5.0 s)"
    )
    assert (error.status, error.reason, error.attempts) == (503, "ServiceUnavailable", 4)


def test_a_non_transient_answer_ends_the_call_at_once():
    a = attempts()
    step = a.after_failure(Failure(403, "Forbidden", 'deployments.apps "web" is forbidden'), 100.2)
    assert isinstance(step, GiveUp)
    error = final_error(step, a.attempt)
    assert error.attempts == 1 and error.status == 403
    assert str(error).startswith(
        "PATCH /apis/apps/v1/namespaces/prod/deployments/web: 403 Forbidden: "
        'deployments.apps "web" is forbidden (not retried'
    )


def test_no_answer_at_all_is_named_so():
    a = attempts(RetryPolicy(attempts=1))
    step = a.after_failure(Failure(None, "read timed out", "ReadTimeoutError: read timeout=60"), 160.0)
    assert isinstance(step, GiveUp)
    assert str(final_error(step, 1)) == (
        "PATCH /apis/apps/v1/namespaces/prod/deployments/web: read timed out: ReadTimeoutError: "
        "read timeout=60 (gave up after 1 attempt in 60.0 s)"
    )


def test_a_wait_that_would_pass_the_deadline_ends_the_call_now():
    a = attempts(RetryPolicy(attempts=10, base=4.0, cap=8.0, deadline=10.0))
    assert isinstance(a.after_failure(Failure(502, "BadGateway", ""), 100.0), Retry)  # waits 4 s
    step = a.after_failure(Failure(502, "BadGateway", ""), 104.5)  # would wait 8 s: 12.5 > 10
    assert isinstance(step, GiveUp)
    assert "waiting 8.0 s would pass the call's 10 s deadline" in step.detail
    assert a.attempt == 2


def test_a_retry_after_beyond_the_deadline_is_not_waited_for():
    a = attempts(RetryPolicy(deadline=30.0))
    step = a.after_failure(Failure(429, "TooManyRequests", "", retry_after=120.0), 100.0)
    assert isinstance(step, GiveUp)
    assert "waiting 120.0 s (the server's Retry-After) would pass the call's 30 s deadline" in step.detail


def test_each_attempt_is_given_no_more_than_the_time_left():
    a = attempts(RetryPolicy(deadline=60.0, min_attempt=1.0))
    assert a.timeout((10.0, 60.0), 100.0) == (10.0, 60.0)
    assert a.timeout((10.0, 60.0), 130.0) == (10.0, 30.0)
    assert a.timeout((10.0, None), 159.5) == (1.0, 1.0), "never below min_attempt"


def test_maybe_applied_remembers_an_unanswered_attempt():
    a = attempts()
    a.after_failure(Failure(429, "TooManyRequests", "", retry_after=0.0), 100.0)
    assert not a.maybe_applied, "a 429 was refused before anything happened"
    a.after_failure(Failure(None, "connection reset", ""), 100.5)
    assert a.maybe_applied


# -- 409 AlreadyExists after a retried create -----------------------------------------------------------

SENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web-canary",
        "labels": {"app": "web", "track": "canary", "app.kubernetes.io/managed-by": "airlock"},
        "annotations": {"kubernetes.io/change-cause": "deploy 2"},
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web", "track": "canary"}},
        "template": {"spec": {"containers": [{"name": "app", "image": "web:2"}]}},
    },
}


def stored(**changes) -> dict:
    """SENT as the server keeps it: defaults and server fields added."""
    obj = {
        **SENT,
        "metadata": {**SENT["metadata"], "uid": "u1", "resourceVersion": "7", "generation": 1},
        "spec": {
            **SENT["spec"],
            "revisionHistoryLimit": 10,
            "template": {
                "spec": {
                    "containers": [{"name": "app", "image": "web:2", "imagePullPolicy": "IfNotPresent"}],
                    "restartPolicy": "Always",
                }
            },
        },
        "status": {"replicas": 1},
    }
    for key, value in changes.items():
        obj[key] = value
    return obj


def test_our_own_create_is_recognised_despite_server_defaults():
    assert is_what_we_created(SENT, stored())


def test_an_object_changed_since_or_someone_elses_is_not_ours():
    other_image = stored(
        spec={**stored()["spec"], "template": {"spec": {"containers": [{"name": "app", "image": "web:3"}]}}}
    )
    assert not is_what_we_created(SENT, other_image)
    not_marked = {**SENT, "metadata": {**SENT["metadata"], "labels": {"app": "web", "track": "canary"}}}
    assert not is_what_we_created(not_marked, stored()), "we only claim what carries Airlock's marker"
    relabelled = stored(metadata={**stored()["metadata"], "labels": {"app": "web"}})
    assert not is_what_we_created(SENT, relabelled)
    renamed = stored(metadata={**stored()["metadata"], "name": "web-canary-2"})
    assert not is_what_we_created(SENT, renamed)
    assert not is_what_we_created(SENT, None)


def test_another_runs_lease_is_not_ours():
    lease = {
        "metadata": {"name": "airlock-web", "labels": {"app.kubernetes.io/managed-by": "airlock"}},
        "spec": {"holderIdentity": "run-1", "renewTime": "2026-12-02T07:00:00.000000Z"},
    }
    theirs = {**lease, "spec": {**lease["spec"], "holderIdentity": "run-2"}}
    assert is_what_we_created(lease, lease)
    assert not is_what_we_created(lease, theirs)


def test_contains_reads_lists_in_order_and_whole():
    assert contains({"a": [{"x": 1, "y": 2}], "b": 3}, {"a": [{"x": 1}]})
    assert not contains({"a": [{"x": 1}, {"x": 2}]}, {"a": [{"x": 1}]}), "a list is compared whole"
    assert not contains({"a": [{"x": 2}, {"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]})
    assert contains({"q": 0.5}, {"q": 0.5}) and not contains({"q": "0.5"}, {"q": 0.5})
