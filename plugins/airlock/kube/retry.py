"""The retry policy of the Kubernetes layer: which failures are transient, how long to wait, when to stop.

Pure: no clock, no randomness, no I/O and no import of the HTTP libraries. The two transports
(`api.Kube.request`, `async_api.AsyncKube._call`) drive one `CallAttempts` per call with their own
clock, sleep and random draw, and the watch session (watch.py) asks `RetryPolicy.delay` for its
reconnect pauses, so sync, async and watch retry by the same rules:

* Transient, retried: HTTP 429 (waiting what `Retry-After` says, in seconds or as an HTTP-date),
  500, 502, 503, 504, and every failure without an HTTP answer - connection refused or reset, the
  server closing the connection, connect/read timeouts (urllib3, aiohttp, the stdlib's socket
  errors; recognised by class name, see `_TRANSIENT_TYPES`).
* Never retried: every other status. A 4xx is the server telling us the request itself is wrong
  (403 Forbidden, 404, 422 Invalid, 410 Expired for the watch's relist logic); asking again cannot
  help and would only delay the error.
* 409 is the one 4xx with a rule of its own, because Airlock's writes are read-compare-write:
  - 409 AlreadyExists on a *retried* create whose earlier attempt may have been applied (no answer,
    a timeout, a 5xx) is most likely our own object: the transport re-reads it and returns it when
    `is_what_we_created` says so (same name, Airlock's managed-by label, and everything we sent is
    still there as we sent it). Anything else is surfaced: a first-attempt 409 means the object
    existed before (the callers read before they create, so someone raced us).
  - 409 Conflict on replace (a stale resourceVersion) is surfaced to the caller, never retried here:
    only the caller can re-read and decide again (lock.acquire does exactly that), and a PUT retried
    after an unanswered attempt that was applied gets this 409 too, which the caller's re-read
    resolves (it sees its own write). Patches carry no resourceVersion, so re-sending one is a no-op.
* Waits: exponential backoff with full jitter (a uniform draw in [0, min(cap, base * 2^(n-1))]),
  a bounded number of attempts and an overall deadline per call; a wait that would pass the
  deadline ends the call now with the final error instead of sleeping first.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# The statuses an apiserver (or the load balancer in front of it) answers when asking again later
# can succeed: throttled (APF), internal error, bad gateway, unavailable, gateway/etcd timeout.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

# Failures without an HTTP answer, by the qualified name of a class in the exception's MRO, so this
# module needs neither urllib3 nor aiohttp imported (DAG parsing imports the core).
_TRANSIENT_TYPES: dict[str, str] = {
    # sync client: kubernetes -> urllib3 (the transport turns urllib3's own retries off, so these
    # arrive raw; MaxRetryError is unwrapped to its reason below in case a caller configured them)
    "urllib3.exceptions.ProtocolError": "connection broken",  # reset/aborted, "Connection broken"
    "urllib3.exceptions.ReadTimeoutError": "read timed out",
    "urllib3.exceptions.ConnectTimeoutError": "connect timed out",
    "urllib3.exceptions.NewConnectionError": "connection failed",  # e.g. refused
    "urllib3.exceptions.TimeoutError": "timed out",
    "urllib3.exceptions.IncompleteRead": "answer cut short",
    "http.client.IncompleteRead": "answer cut short",
    # async client: kubernetes_asyncio -> aiohttp
    "aiohttp.client_exceptions.ServerTimeoutError": "read timed out",
    "aiohttp.client_exceptions.ClientConnectorError": "connection failed",
    "aiohttp.client_exceptions.ServerDisconnectedError": "server closed the connection",
    "aiohttp.client_exceptions.ClientConnectionError": "connection broken",
    "aiohttp.client_exceptions.ClientPayloadError": "answer cut short",
    # the stdlib under both (asyncio.TimeoutError and socket.timeout are TimeoutError since 3.11)
    "builtins.ConnectionRefusedError": "connection refused",
    "builtins.ConnectionResetError": "connection reset",
    "builtins.ConnectionError": "connection broken",
    "builtins.TimeoutError": "timed out",
}

# The label every object Airlock creates carries; a 409 AlreadyExists is only adopted with it.
MANAGED_BY = ("app.kubernetes.io/managed-by", "airlock")


@dataclass(frozen=True)
class Failure:
    """One failed attempt as the policy sees it."""

    status: int | None  # the HTTP status; None when no HTTP answer arrived
    reason: str  # the Status reason ("ServiceUnavailable") or what went wrong ("read timed out")
    message: str
    retry_after: float | None = None  # seconds the server asked us to wait (429/503 Retry-After)

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in TRANSIENT_STATUSES

    @property
    def maybe_applied(self) -> bool:
        """Whether the server may have applied a write that failed this way (no answer, or a 5xx).

        A 429 is a refusal before any processing; a 5xx or a lost answer may come after the commit.
        """
        return self.status is None or self.status >= 500

    def describe(self) -> str:
        head = f"{self.status} {self.reason}" if self.status is not None else self.reason
        return f"{head}: {self.message}" if self.message else head


def failure_of(exc: BaseException) -> Failure | None:
    """The Failure an exception stands for, or None when it is not a failed call (a bug: re-raise it).

    An exception with an integer `status` (KubeError, the clients' ApiException) is an HTTP answer;
    a transport exception is recognised by class name (see `_TRANSIENT_TYPES`).
    """
    status = getattr(exc, "status", None)
    if status == 0 and getattr(exc, "call", ""):
        # a transport's final error for a call that got no answer (KubeError status 0): still no answer
        return Failure(None, str(getattr(exc, "reason", "")), str(getattr(exc, "message", "")))
    if isinstance(status, int) and not isinstance(status, bool) and status > 0:
        retry_after = getattr(exc, "retry_after", None)
        return Failure(
            status,
            str(getattr(exc, "reason", "") or ""),
            str(getattr(exc, "message", "") or ""),
            float(retry_after) if isinstance(retry_after, int | float) else None,
        )
    names = [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]
    if "urllib3.exceptions.MaxRetryError" in names:
        inner = getattr(exc, "reason", None)
        if isinstance(inner, BaseException):
            found = failure_of(inner)
            if found is not None:
                return found
    for name in names:
        if name in _TRANSIENT_TYPES:
            return Failure(None, _TRANSIENT_TYPES[name], f"{type(exc).__name__}: {exc}")
    return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (`now`: epoch seconds).

    None when absent or unreadable; a date in the past means "now" (0).
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an offset-less one is read as such
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one call: `attempts` at most, all within `deadline` seconds of the first one."""

    attempts: int = 5
    base: float = 0.5  # the first wait's upper bound, seconds
    cap: float = 8.0  # no single backoff wait's upper bound exceeds this
    deadline: float = 90.0  # seconds from the first attempt's start to the last one's end
    min_attempt: float = 1.0  # an attempt with less time left than this is not started

    def backoff(self, retry: int, rand: Callable[[], float]) -> float:
        """The wait before retry number `retry` (1 = the first retry): full jitter over the bound."""
        bound = min(self.cap, self.base * 2.0 ** max(0, retry - 1))
        return min(bound, max(0.0, rand()) * bound)

    def delay(self, failure: Failure, retry: int, rand: Callable[[], float]) -> float:
        """What to wait before retry `retry`: the server's Retry-After when it gave one, else backoff."""
        if failure.retry_after is not None:
            return failure.retry_after
        return self.backoff(retry, rand)


# One attempt, no retry and no deadline of its own: for a watch's opening request, whose reconnects
# the watch session owns and whose read timeout is the watch's server-side timeout plus a margin.
ONCE = RetryPolicy(attempts=1, deadline=math.inf)


@dataclass(frozen=True)
class Retry:
    wait: float
    note: str  # for the log: what failed, attempt n of m, the wait


@dataclass(frozen=True)
class GiveUp:
    failure: Failure
    call: str  # "VERB path"
    detail: str  # why this is the end: not transient, attempts exhausted, deadline


class CallAttempts:
    """The retry state of one call `verb path`; the transports drive it (see the module docstring).

    attempts = CallAttempts(policy, "GET", path, now=clock(), rand=random.random)
    loop: send with attempts.timeout(configured, clock());
          on failure: step = attempts.after_failure(failure, clock())
                      Retry -> log step.note, sleep step.wait, send again; GiveUp -> raise
    """

    def __init__(
        self, policy: RetryPolicy, verb: str, path: str, *, now: float, rand: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.call = f"{verb} {path}"
        self.started = now
        self.rand = rand
        self.attempt = 1  # the attempt being made (1-based)
        self.maybe_applied = False  # an earlier attempt of this call may have reached the server's store

    def timeout(self, configured: tuple[float, float | None], now: float) -> tuple[float, float | None]:
        """(connect, read) for the next attempt: the read timeout never outlasts the call's deadline."""
        if math.isinf(self.policy.deadline):
            return configured
        left = max(self.policy.min_attempt, self.started + self.policy.deadline - now)
        connect, read = configured
        return (min(connect, left), left if read is None else min(read, left))

    def after_failure(self, failure: Failure, now: float) -> Retry | GiveUp:
        attempt, limit = self.attempt, self.policy.attempts
        elapsed = now - self.started
        if not failure.transient:
            return GiveUp(failure, self.call, "not retried: the answer is not a transient error")
        self.maybe_applied = self.maybe_applied or failure.maybe_applied
        if attempt >= limit:
            return GiveUp(failure, self.call, f"gave up after {_attempts(attempt)} in {elapsed:.1f} s")
        wait = self.policy.delay(failure, attempt, self.rand)
        left = self.policy.deadline - elapsed
        if wait + self.policy.min_attempt > left:
            asked = " (the server's Retry-After)" if failure.retry_after is not None else ""
            return GiveUp(
                failure,
                self.call,
                f"gave up after {_attempts(attempt)} in {elapsed:.1f} s: "
                f"waiting {wait:.1f} s{asked} would pass the call's {self.policy.deadline:g} s deadline",
            )
        self.attempt += 1
        return Retry(
            wait,
            f"{self.call} failed ({failure.describe()}); attempt {attempt} of {limit}, "
            f"retrying in {wait:.1f} s",
        )


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def contains(found: Any, sent: Any) -> bool:
    """Whether `found` holds everything in `sent` as sent (extra keys, e.g. server defaults, allowed).

    Lists must have the same length and hold their items in order: a server adds fields to a
    container, not containers to a pod.
    """
    if isinstance(sent, dict):
        return isinstance(found, dict) and all(k in found and contains(found[k], v) for k, v in sent.items())
    if isinstance(sent, list):
        return (
            isinstance(found, list)
            and len(found) == len(sent)
            and all(contains(f, s) for f, s in zip(found, sent, strict=True))
        )
    if isinstance(sent, float) and isinstance(found, int | float):
        return math.isclose(found, sent)
    return bool(found == sent)


def is_what_we_created(sent: Obj, found: Obj | None) -> bool:
    """Whether `found` (read after a 409 AlreadyExists) is the object our earlier attempt created.

    Required: the same name; Airlock's managed-by label in what we sent (we never claim objects that
    are not ours by construction); every label and annotation we sent, with the same value; and every
    other field we sent (spec, data, ...) still as we sent it. A Lease carries its holder and renew
    time in spec, so another run's lease never passes; a Deployment someone changed since is
    surfaced as the 409 it is.
    """
    if not isinstance(found, dict):
        return False
    meta_sent, meta_found = sent.get("metadata") or {}, found.get("metadata") or {}
    if not meta_sent.get("name") or meta_sent.get("name") != meta_found.get("name"):
        return False
    labels = meta_sent.get("labels") or {}
    if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        return False
    for key in ("labels", "annotations"):
        if not contains(meta_found.get(key) or {}, meta_sent.get(key) or {}):
            return False
    rest = {k: v for k, v in sent.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return contains(found, rest)
