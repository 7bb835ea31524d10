"""The sync transport: a thin, dict-in/dict-out REST layer over the official client's `ApiClient`.

Airlock reads and writes Kubernetes objects as plain JSON dicts (what kubectl's dynamic client does):
the pure decision functions take dicts, patches are sent with the exact content type kubectl uses,
and nothing depends on the generated model classes (which drop unknown fields, cannot express
JSON Patch / strategic merge choice explicitly, and garble pod logs in client 36 unless the body is
read raw - kubernetes-client/python#2596).

Every HTTP call goes through `Kube.request`, the one place for this transport's timeouts (and, next,
its bounded retries); `async_api.AsyncKube` is the async twin for the triggers. Every write goes
through `Kube.write()`, which honours dry-run: the request is logged with its body and nothing is
sent. Reads always go to the server, so a dry run shows real "current vs desired".
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from airlock.kube.reads import GetObject, ListObjects, Read
from airlock.log import Log

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
    """A Kubernetes API call failed; carries the HTTP status and the server's Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def status_error(status: int, reason: str, body: str | bytes | None) -> KubeError:
    """A KubeError from an HTTP status and the server's body (a Status object when it is JSON)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body or "")
    message = text
    try:
        parsed = json.loads(text or "{}")
        if isinstance(parsed, dict):
            reason, message = parsed.get("reason", reason), parsed.get("message", message)
    except ValueError:
        pass
    return KubeError(int(status or 0), str(reason or ""), str(message))


def _error(exc: ApiException) -> KubeError:
    return status_error(int(exc.status or 0), exc.reason or "", exc.body)


def path(resource: str, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
    prefix, namespaced = _PATHS[resource]
    out = prefix + (f"/namespaces/{namespace}" if namespaced else "") + f"/{_PLURALS.get(resource, resource)}"
    if name:
        out += f"/{name}"
    if sub:
        out += f"/{sub}"
    return out


class Kube:
    """Reads and (unless dry_run) writes Kubernetes objects as dicts through one ApiClient."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        dry_run: bool = False,
        log: Log | None = None,
        timeout: tuple[float, float | None] = DEFAULT_TIMEOUT,
    ):
        self.api_client = api_client
        self.dry_run = dry_run
        self.timeout = timeout
        self.log = log or logging.getLogger("airlock.kube")
        self.writes: list[tuple[str, str, Any]] = []  # what was written (or would be, in a dry run)

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
        timeout: float | tuple[float, float | None] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        # imported here, not at module level: by now an ApiClient exists, so kubernetes is loaded
        from kubernetes.client.exceptions import ApiException

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
                _request_timeout=timeout or self.timeout,
            )
        except ApiException as exc:
            raise _error(exc) from None
        if stream:
            return resp
        data = resp.data
        if not data:
            return None
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        if raw:
            return text
        try:
            return json.loads(text)
        except ValueError:
            return text

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
        query: list[tuple[str, Any]] = []
        if tail_lines:
            query.append(("tailLines", tail_lines))
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
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
        """Send one write, or in a dry run log exactly what would be sent and return None."""
        shown = json.dumps(body, sort_keys=True) if body is not None else ""
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
