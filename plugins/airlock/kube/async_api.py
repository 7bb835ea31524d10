"""The async transport: the reads of `api.Kube`, over a `kubernetes_asyncio` ApiClient, for the triggers.

The triggers get their ApiClient from the cncf provider's `AsyncKubernetesHook`; this class turns it
into the same dict-in/dict-out reads as the sync transport, with the same paths, the same errors
(`KubeError`, built from the server's Status body) and the same request types (reads.py), so the watch
state machine (watch.py) and the read plans (diagnose.py) run unchanged over either transport.

Every HTTP call goes through `AsyncKube._call`, the one place for this transport's timeouts and its
bounded retries, by the same policy as the sync transport (retry.py). Reads, plus one write: a
run waiting in the triggerer renews its deploy lock (`replace`). Below it aiohttp still re-sends an
idempotent request once, at once, when a persistent connection drops (RFC 9112's allowance for a
keep-alive connection the server closed); unlike urllib3's default retries (which the sync transport
turns off) that cannot multiply timeouts.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from airlock.kube.api import (
    DEFAULT_TIMEOUT,
    WATCH_READ_MARGIN,
    KubeError,
    final_error,
    log_lines,
    log_query,
    path,
    status_error,
)
from airlock.kube.reads import GetObject, ListObjects, Read, WatchObjects
from airlock.kube.retry import ONCE, CallAttempts, GiveUp, RetryPolicy, failure_of, parse_retry_after
from airlock.log import Log

Obj = dict[str, Any]


class AsyncKube:
    """Reads Kubernetes objects as dicts through one kubernetes_asyncio ApiClient.

    `retry` bounds every call (retry.py); `clock`, `sleep` and `rand` are injectable like the sync
    transport's.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        log: Log | None = None,
        timeout: tuple[float, float | None] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock, self.sleep, self.rand = clock, sleep, rand
        self.log = log or logging.getLogger("airlock.kube")

    # -- transport ---------------------------------------------------------------------------------
    async def _call(
        self,
        url: str,
        query: list[tuple[str, Any]],
        timeout: tuple[float, float | None] | None = None,
        *,
        stream: bool = False,
        method: str = "GET",
        body: Any = None,
    ) -> Any:
        """One GET, retried by the policy: the body (bytes), or with `stream` the open aiohttp response.

        With `_preload_content=False` kubernetes_asyncio hands back every answer, errors included
        (the sync client raises), so the status is checked here. A stream gets one attempt: the
        watch session owns its reconnects (watch.py).
        """
        attempts = CallAttempts(ONCE if stream else self.retry, method, url, now=self.clock(), rand=self.rand)
        request_headers = {"Accept": "application/json"}
        if body is not None:
            request_headers["Content-Type"] = "application/json"
        while True:
            try:
                resp = await self.api_client.call_api(
                    url,
                    method,
                    query_params=query,
                    header_params=dict(request_headers),  # the client adds its defaults to it
                    body=body,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _return_http_data_only=True,
                    _request_timeout=attempts.timeout(timeout or self.timeout, self.clock()),
                )
                ok = 200 <= int(resp.status) <= 299
                if ok and stream:
                    return resp
                try:
                    body = await resp.read()  # inside the attempt: an answer cut short is retried too
                finally:
                    resp.release()
                if ok:
                    return body
                headers = getattr(resp, "headers", None) or {}
                raise status_error(
                    int(resp.status),
                    str(getattr(resp, "reason", "") or ""),
                    body,
                    parse_retry_after(headers.get("Retry-After"), time.time()),
                )
            except Exception as exc:
                failure = failure_of(exc)
                if failure is None:
                    raise
                step = attempts.after_failure(failure, self.clock())
                if isinstance(step, GiveUp):
                    raise final_error(step, attempts.attempt) from (None if failure.status else exc)
                self.log.warning("%s", step.note)
                await self.sleep(step.wait)

    async def _text(self, url: str, query: list[tuple[str, Any]]) -> str:
        data = await self._call(url, query)
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data or "")

    # -- reads -------------------------------------------------------------------------------------
    async def read(self, request: Read) -> Any:
        """Answer one transport-agnostic read (see reads.py): how read plans reach this transport."""
        if isinstance(request, GetObject):
            return await self.get(request.resource, request.namespace, request.name)
        if isinstance(request, ListObjects):
            return await self.list(
                request.resource,
                request.namespace,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
            )
        return await self.logs(
            request.namespace,
            request.pod,
            container=request.container,
            tail_lines=request.tail_lines,
            previous=request.previous,
        )

    async def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or None if it does not exist."""
        try:
            found = json.loads(await self._text(path(resource, namespace, name), []))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def list(
        self, resource: str, namespace: str | None, *, label_selector: str = "", field_selector: str = ""
    ) -> Obj:
        query: list[tuple[str, Any]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        listed = json.loads(await self._text(path(resource, namespace), query))
        return listed if isinstance(listed, dict) else {}

    async def logs(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int = 20,
        previous: bool = False,
    ) -> builtins.list[str]:
        """Last log lines of a pod's container ([] when there are none or they cannot be read)."""
        query = log_query(container=container, tail_lines=tail_lines, previous=previous)
        try:
            return log_lines(await self._text(path("pods", namespace, pod, "log"), query))
        except KubeError:
            return []

    async def replace(self, resource: str, namespace: str | None, name: str, body: Obj) -> Obj | None:
        """PUT one object (the one write of this transport: a waiting run renewing its deploy lock,
        lock.keep_lease_async). A 409 Conflict (stale resourceVersion) is the caller's to resolve."""
        self.log.info("PUT %s (renew deploy lock)", path(resource, namespace, name))
        data = await self._call(path(resource, namespace, name), [], method="PUT", body=body)
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data or "")
        found = json.loads(text) if text else None
        return found if isinstance(found, dict) else None

    async def watch(self, request: WatchObjects) -> AsyncGenerator[Obj, None]:
        """One watch request; yields {"type", "object"} events until the server ends the stream."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", request.resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", max(1, int(request.timeout_seconds))),
        ]
        if request.field_selector:
            query.append(("fieldSelector", request.field_selector))
        # No event for longer than the server's own timeout means the stream is dead, not quiet.
        timeout = (self.timeout[0], request.timeout_seconds + WATCH_READ_MARGIN)
        resp = await self._call(path(request.resource, request.namespace), query, timeout, stream=True)
        try:
            while True:
                line = await resp.content.readline()
                if not line:
                    break
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.release()
