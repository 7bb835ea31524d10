"""The async transport: the reads of `api.Kube`, over a `kubernetes_asyncio` ApiClient, for the triggers.

The triggers get their ApiClient from the cncf provider's `AsyncKubernetesHook`; this class turns it
into the same dict-in/dict-out reads as the sync transport, with the same paths, the same errors
(`KubeError`, built from the server's Status body) and the same request types (reads.py), so the watch
state machine (watch.py) and the read plans (diagnose.py) run unchanged over either transport.

Every HTTP call goes through `AsyncKube._call`, the one place for this transport's timeouts (and,
next, its bounded retries). Reads only: the triggers never write.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

from airlock.kube.api import DEFAULT_TIMEOUT, WATCH_READ_MARGIN, KubeError, log_lines, path, status_error
from airlock.kube.reads import GetObject, ListObjects, Read, WatchObjects
from airlock.log import Log

Obj = dict[str, Any]


class AsyncKube:
    """Reads Kubernetes objects as dicts through one kubernetes_asyncio ApiClient."""

    def __init__(
        self,
        api_client: Any,
        *,
        log: Log | None = None,
        timeout: tuple[float, float | None] = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.log = log or logging.getLogger("airlock.kube")

    # -- transport ---------------------------------------------------------------------------------
    async def _call(
        self, url: str, query: list[tuple[str, Any]], timeout: tuple[float, float | None] | None = None
    ) -> Any:
        """One GET; the raw aiohttp response, or KubeError for a non-2xx answer.

        With `_preload_content=False` kubernetes_asyncio hands back every answer, errors included
        (the sync client raises), so the status is checked here.
        """
        resp = await self.api_client.call_api(
            url,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout or self.timeout,
        )
        if not 200 <= int(resp.status) <= 299:
            try:
                body = await resp.read()
            finally:
                resp.release()
            raise status_error(int(resp.status), str(getattr(resp, "reason", "") or ""), body)
        return resp

    async def _text(self, url: str, query: list[tuple[str, Any]]) -> str:
        resp = await self._call(url, query)
        try:
            data = await resp.read()
        finally:
            resp.release()
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
        query: list[tuple[str, Any]] = [("tailLines", tail_lines)]
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        try:
            return log_lines(await self._text(path("pods", namespace, pod, "log"), query))
        except KubeError:
            return []

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
        resp = await self._call(path(request.resource, request.namespace), query, timeout)
        try:
            while True:
                line = await resp.content.readline()
                if not line:
                    break
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.release()
