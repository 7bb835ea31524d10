"""The sync transport: a thin, dict-in/dict-out REST layer over the official client's `ApiClient`.

Airlock reads and writes Kubernetes objects as plain JSON dicts (what kubectl's dynamic client does):
the pure decision functions take dicts, patches are sent with the exact content type kubectl uses,
and nothing depends on the generated model classes (which drop unknown fields, cannot express
JSON Patch / strategic merge choice explicitly, and garble pod logs in client 36 unless the body is
read raw - kubernetes-client/python#2596).

Every HTTP call goes through `Kube.request`, the one place for this transport's timeouts and its
bounded retries (the rules are retry.py's: transient failures retried with backoff within a
deadline, each retry logged; a retried create answered 409 AlreadyExists adopts the object our
earlier attempt created); `async_api.AsyncKube` is the async twin for the triggers. Every write goes
through `Kube.write()`, which honours dry-run: the request is logged with its body and nothing is
sent. Reads always go to the server, so a dry run shows real "current vs desired".
"""

from __future__ import annotations

import builtins
import json
import logging
import random
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from airlock.kube.reads import GetObject, ListObjects, Read
from airlock.kube.retry import (
    ONCE,
    CallAttempts,
    GiveUp,
    RetryPolicy,
    failure_of,
    is_what_we_created,
    parse_retry_after,
)
from airlock.log import Log
from airlock.redact import redact_body

if TYPE_CHECKING:  # kubernetes is heavy to import; DAG parsing must not pay for it
    from kubernetes.client import ApiClient
    from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]

# resource -> (API path prefix, namespaced); the URL plural is the resource unless _PLURALS says otherwise
_PATHS: dict[str, tuple[str, bool]] = {
    "nodes": ("/api/v1", False),
    "nodemetrics": ("/apis/metrics.k8s.io/v1beta1", False),
    "pods": ("/api/v1", True),
    "services": ("/api/v1", True),
    "events": ("/api/v1", True),
    "configmaps": ("/api/v1", True),
    "namespaces": ("/api/v1", False),
    "deployments": ("/apis/apps/v1", True),
    "replicasets": ("/apis/apps/v1", True),
    "jobs": ("/apis/batch/v1", True),
    "leases": ("/apis/coordination.k8s.io/v1", True),
}

_PLURALS = {"nodemetrics": "nodes"}  # metrics.k8s.io serves NodeMetrics as "nodes"

# (connect, read) seconds for one request: a cluster that stops answering must fail the call, not
# hang the task. A watch overrides the read timeout with its own server-side timeout plus a margin.
DEFAULT_TIMEOUT: tuple[float, float | None] = (10.0, 60.0)
WATCH_READ_MARGIN = 30.0

CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


class KubeError(RuntimeError):
    """A Kubernetes API call failed; carries the HTTP status and the server's Status reason.

    `status` is 0 when no HTTP answer arrived (connection refused/reset, timeouts): `reason` then
    says what went wrong. The transports fill `call` ("VERB path") and `attempts` on the error they
    finally raise, so the message names the request that failed and how often it was tried.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        call: str = "",
        attempts: int = 1,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        text = f"{status} {reason}: {message}" if status else f"{reason}: {message}"
        if call:
            text = f"{call}: {text}"
        if detail:
            text = f"{text} ({detail})"
        super().__init__(text)
        self.status = status
        self.reason = reason
        self.message = message
        self.call = call
        self.attempts = attempts
        self.retry_after = retry_after  # seconds, from the answer's Retry-After header


def status_error(
    status: int, reason: str, body: str | bytes | None, retry_after: float | None = None
) -> KubeError:
    """A KubeError from an HTTP status and the server's body (a Status object when it is JSON)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body or "")
    message = text
    try:
        parsed = json.loads(text or "{}")
        if isinstance(parsed, dict):
            reason, message = parsed.get("reason", reason), parsed.get("message", message)
    except ValueError:
        pass
    return KubeError(int(status or 0), str(reason or ""), str(message), retry_after=retry_after)


def final_error(step: GiveUp, attempts: int) -> KubeError:
    """The error a call ends with: what it was, the last answer, and why it stopped trying."""
    f = step.failure
    return KubeError(
        f.status or 0,
        f.reason,
        f.message,
        call=step.call,
        attempts=attempts,
        detail=step.detail,
        retry_after=f.retry_after,
    )


def _error(exc: ApiException) -> KubeError:
    headers = getattr(exc, "headers", None) or {}
    retry_after = parse_retry_after(headers.get("Retry-After"), time.time())
    return status_error(int(exc.status or 0), exc.reason or "", exc.body, retry_after)


def path(resource: str, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
    prefix, namespaced = _PATHS[resource]
    out = prefix + (f"/namespaces/{namespace}" if namespaced else "") + f"/{_PLURALS.get(resource, resource)}"
    if name:
        out += f"/{name}"
    if sub:
        out += f"/{sub}"
    return out


class Kube:
    """Reads and (unless dry_run) writes Kubernetes objects as dicts through one ApiClient.

    `retry` bounds every call (retry.py); `clock`, `sleep` and `rand` are injectable so a test can
    run the retry loop without waiting.
    """

    def __init__(
        self,
        api_client: ApiClient,
        *,
        dry_run: bool = False,
        log: Log | None = None,
        timeout: tuple[float, float | None] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        fence: Callable[[Kube, str, str], None] | None = None,
    ):
        self.api_client = api_client
        self.dry_run = dry_run
        # called before every write that is sent (not in a dry run): raises to refuse it (lock.Fence)
        self.fence = fence
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock, self.sleep, self.rand = clock, sleep, rand
        self.log = log or logging.getLogger("airlock.kube")
        self.writes: list[tuple[str, str, Any]] = []  # what was written (or would be, in a dry run)
        _disable_urllib3_retries(api_client)

    # -- transport ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        raw: bool = False,
        timeout: tuple[float, float | None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """One call, retried by `retry` (the Kube's policy by default) when it fails transiently.

        A stream is returned as soon as its answer starts; what breaks later is the reader's to handle.
        """
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        # imported here, not at module level: by now an ApiClient exists, so kubernetes is loaded
        from kubernetes.client.exceptions import ApiException

        attempts = CallAttempts(retry or self.retry, method, url, now=self.clock(), rand=self.rand)
        while True:
            try:
                try:
                    resp = self.api_client.call_api(
                        url,
                        method,
                        query_params=query or [],
                        header_params=headers,
                        body=body,
                        auth_settings=["BearerToken"],
                        _preload_content=False,
                        _return_http_data_only=True,
                        _request_timeout=attempts.timeout(timeout or self.timeout, self.clock()),
                    )
                except ApiException as exc:
                    raise _error(exc) from None
                if stream:
                    return resp
                data = resp.data  # read inside the attempt: an answer cut short is retried too
                break
            except Exception as exc:
                failure = failure_of(exc)
                if failure is None:
                    raise
                if (
                    method == "POST"
                    and failure.status == 409
                    and failure.reason == "AlreadyExists"
                    and attempts.maybe_applied
                ):
                    adopted = self._adopt(url, body)
                    if adopted is not None:
                        return adopted
                step = attempts.after_failure(failure, self.clock())
                if isinstance(step, GiveUp):
                    raise final_error(step, attempts.attempt) from (None if failure.status else exc)
                self.log.warning("%s", step.note)
                self.sleep(step.wait)
        if not data:
            return None
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        if raw:
            return text
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _adopt(self, url: str, sent: Any) -> Obj | None:
        """After a retried create got 409 AlreadyExists: the existing object if our attempt made it.

        An earlier attempt of this create went unanswered (or failed with a 5xx) and may have been
        applied; the object then exists because of us, and the create has succeeded. Only an object
        that `is_what_we_created` is adopted; anything else keeps the 409 (see retry.py).
        """
        name = ((sent or {}).get("metadata") or {}).get("name") if isinstance(sent, dict) else None
        if not name:
            return None
        try:
            found = self.request("GET", f"{url}/{name}")
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        if not is_what_we_created(sent, found):
            self.log.warning(
                "POST %s: %s already exists but differs from what this create sent (or is not Airlock's); "
                "not treating it as ours",
                url,
                name,
            )
            return None
        self.log.info(
            "POST %s: %s already exists with what this create sent - an earlier attempt, whose answer "
            "was lost, created it; using it",
            url,
            name,
        )
        return found  # type: ignore[no-any-return]

    # -- reads ---------------------------------------------------------------------------------
    def read(self, request: Read) -> Any:
        """Answer one transport-agnostic read (see reads.py): how read plans reach this transport."""
        if isinstance(request, GetObject):
            return self.get(request.resource, request.namespace, request.name)
        if isinstance(request, ListObjects):
            return self.list(
                request.resource,
                request.namespace,
                label_selector=request.label_selector or None,
                field_selector=request.field_selector or None,
            )
        return self.logs(
            request.namespace,
            request.pod,
            container=request.container,
            tail_lines=request.tail_lines,
            previous=request.previous,
        )

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or None if it does not exist."""
        try:
            return self.request("GET", path(resource, namespace, name))  # type: ignore[no-any-return]
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self,
        resource: str,
        namespace: str | None,
        *,
        label_selector: str | dict[str, str] | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        query: list[tuple[str, Any]] = []
        if label_selector:
            query.append(("labelSelector", selector_string(label_selector)))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return self.request("GET", path(resource, namespace), query=query)  # type: ignore[no-any-return]

    def items(self, resource: str, namespace: str | None, **kw: Any) -> builtins.list[Obj]:
        return list(self.list(resource, namespace, **kw).get("items") or [])

    def watch(
        self,
        resource: str,
        namespace: str | None,
        *,
        resource_version: str,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
    ) -> Generator[Obj, None, None]:
        """One watch request; yields {"type", "object"} events until the server ends the stream."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
        ]
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if timeout_seconds is not None:
            query.append(("timeoutSeconds", max(1, int(timeout_seconds))))
        # No event for longer than the server's own timeout means the stream is dead, not quiet.
        read_timeout = timeout_seconds + WATCH_READ_MARGIN if timeout_seconds is not None else None
        resp = self.request(
            "GET",
            path(resource, namespace),
            query=query,
            stream=True,
            timeout=(self.timeout[0], read_timeout),
            retry=ONCE,  # the watch session owns reconnects (watch.py), with its own backoff
        )
        try:
            from kubernetes.watch.watch import iter_resp_lines

            for line in iter_resp_lines(resp):
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.close()
            resp.release_conn()

    def read_log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
    ) -> str:
        """A pod container's log text (the last `tail_lines` lines); raises KubeError when unreadable."""
        query = log_query(container=container, tail_lines=tail_lines, previous=previous)
        return str(self.request("GET", path("pods", namespace, pod, "log"), query=query, raw=True) or "")

    def logs(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int = 20,
        previous: bool = False,
    ) -> builtins.list[str]:
        """Last log lines of a pod's container ([] when there are none or they cannot be read)."""
        try:
            text = self.read_log(
                namespace, pod, container=container, tail_lines=tail_lines, previous=previous
            )
        except KubeError:
            return []
        return log_lines(text)

    # -- writes --------------------------------------------------------------------------------
    def write(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        what: str = "",
    ) -> Obj | None:
        """Send one write, or in a dry run log exactly what would be sent and return None.

        The log shows the body with pod env values (and Secret data) redacted (redact.py); the API
        server gets the real one.
        """
        shown = json.dumps(redact_body(body), sort_keys=True) if body is not None else ""
        if self.fence is not None and not self.dry_run:
            self.fence(self, method, url)  # the run must still hold its deploy lock (lock.Fence)
        self.writes.append((method, url, body))
        if self.dry_run:
            self.log.info("DRY RUN - would %s %s (%s) %s %s", method, url, content_type, what, shown)
            return None
        self.log.info("%s %s %s %s", method, url, what, shown if len(shown) < 4000 else shown[:4000] + "...")
        return self.request(method, url, body=body, content_type=content_type)  # type: ignore[no-any-return]

    def create(self, resource: str, namespace: str | None, body: Obj, what: str = "") -> Obj | None:
        return self.write("POST", path(resource, namespace), body, what=what)

    def patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        patch_type: str = "strategic",
        what: str = "",
    ) -> Obj | None:
        return self.write(
            "PATCH", path(resource, namespace, name), body, content_type=CONTENT_TYPES[patch_type], what=what
        )

    def replace(
        self, resource: str, namespace: str | None, name: str, body: Obj, what: str = ""
    ) -> Obj | None:
        return self.write("PUT", path(resource, namespace, name), body, what=what)

    def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        what: str = "",
    ) -> Obj | None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            return self.write("DELETE", path(resource, namespace, name), body, what=what)
        except KubeError as exc:
            if exc.status == 404:  # already gone: the desired state holds
                return None
            raise


def _disable_urllib3_retries(api_client: Any) -> None:
    """Turn off urllib3's own retries under this client, unless its configuration chose some.

    By default urllib3 retries a failed connection, and a timed-out idempotent request, up to 3 more
    times at once and silently: a hung GET then costs 4 read timeouts before `Kube.request` sees
    anything, and the call's deadline and its logged attempts would be fiction. One retry layer,
    the policy's, sees every failure.
    """
    config = getattr(api_client, "configuration", None)
    pool_manager = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    if pool_manager is None or getattr(config, "retries", None) is not None:
        return
    if pool_manager.connection_pool_kw.get("retries") is False:
        return
    pool_manager.connection_pool_kw["retries"] = False
    pool_manager.clear()  # pools made before keep their own retries; new ones get the setting


def log_query(
    *, container: str | None, tail_lines: int | None, previous: bool
) -> builtins.list[tuple[str, Any]]:
    """The query of a pod log read, for both transports."""
    query: builtins.list[tuple[str, Any]] = []
    if tail_lines:
        query.append(("tailLines", tail_lines))
    if container:
        query.append(("container", container))
    if previous:
        query.append(("previous", "true"))
    return query


def log_lines(text: str) -> builtins.list[str]:
    return [line for line in text.splitlines() if line.strip()]


def selector_string(selector: str | dict[str, str]) -> str:
    if isinstance(selector, str):
        return selector
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def match_labels_selector(label_selector: Obj | None) -> str:
    """A LabelSelector object (matchLabels + matchExpressions) as a query string."""
    if not label_selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((label_selector.get("matchLabels") or {}).items())]
    for expr in label_selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
