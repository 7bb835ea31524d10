"""The async twin of wait.py for triggers: list once, watch one object, resume, relist on 410.

It takes a `kubernetes_asyncio` ApiClient (from the provider's AsyncKubernetesHook in the trigger) and a
pure `judge(obj) -> (finished, payload)` function, so the rollout trigger and the job trigger share the
transport and each keeps its decision logic in the core's pure functions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from airlock.kube.api import path

Obj = dict[str, Any]
Judge = Callable[[Obj], tuple[bool, Obj]]


class _Gone(Exception):
    pass


async def _request(api_client: Any, url: str, query: list[tuple[str, Any]], timeout: Any = None) -> Any:
    return await api_client.call_api(
        url, "GET", query_params=query, header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
        _request_timeout=timeout,
    )


async def watch_object(api_client: Any, resource: str, namespace: str, name: str, judge: Judge,
                       timeout: float, log: logging.Logger | None = None) -> Obj:
    """Watch `resource/name` until `judge` says finished or `timeout` seconds pass.

    Returns {"finished": bool, "timed_out": bool, "requests": int, "last": payload-or-None}.
    """
    log = log or logging.getLogger("airlock.kube.async_watch")
    deadline = time.monotonic() + timeout
    selector = f"metadata.name={name}"
    url = path(resource, namespace)
    rv, need_list, requests = "", True, 0
    last: Obj | None = None
    while deadline - time.monotonic() > 0.5 or need_list:
        remaining = deadline - time.monotonic()
        if need_list:
            requests += 1
            resp = await _request(api_client, url, [("fieldSelector", selector)], timeout=30)
            listed = json.loads(await resp.read())
            resp.release()
            need_list = False
            rv = str((listed.get("metadata") or {}).get("resourceVersion") or "")
            items = listed.get("items") or []
            finished, last = judge(items[0]) if items else (True, {"missing": True, "message": f"{resource}/{name} "
                                                                   f"not found in {namespace}"})
            if finished:
                return {"finished": True, "timed_out": False, "requests": requests, "last": last}
            continue
        requests += 1
        started, events = time.monotonic(), 0
        query = [("watch", "true"), ("resourceVersion", rv), ("fieldSelector", selector),
                 ("allowWatchBookmarks", "true"), ("timeoutSeconds", max(1, math.ceil(remaining)))]
        try:
            resp = await _request(api_client, url, query, timeout=(10, remaining + 30))
            try:
                while True:
                    line = await resp.content.readline()
                    if not line:
                        break
                    if not line.strip():
                        continue
                    events += 1
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410 or obj.get("reason") in ("Expired", "Gone"):
                            raise _Gone()
                        raise RuntimeError(f"watch error: {obj.get('message', obj)}")
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if event.get("type") == "BOOKMARK":
                        continue
                    if event.get("type") == "DELETED":
                        return {"finished": True, "timed_out": False, "requests": requests,
                                "last": {"deleted": True, "message": f"{resource}/{name} was deleted"}}
                    finished, payload = judge(obj)
                    if payload.get("message") != (last or {}).get("message"):
                        log.info("%s", payload.get("message"))
                    last = payload
                    if finished:
                        return {"finished": True, "timed_out": False, "requests": requests, "last": last}
                    if time.monotonic() >= deadline:
                        break
            finally:
                resp.release()
        except _Gone:
            need_list = True
        except (TimeoutError, OSError, ValueError) as exc:
            log.info("watch of %s/%s ended (%s); resuming from resourceVersion %s", resource, name, exc, rv)
            await asyncio.sleep(0.2)
        except Exception as exc:  # aiohttp payload errors on a dropped connection
            if getattr(exc, "status", None) == 410:
                need_list = True
            else:
                log.info("watch of %s/%s dropped (%s); resuming", resource, name, exc)
                await asyncio.sleep(0.2)
        if not events and time.monotonic() - started < 1.0:
            await asyncio.sleep(1.0)
    return {"finished": False, "timed_out": True, "requests": requests, "last": last}
