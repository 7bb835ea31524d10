"""Wait for a Deployment rollout the way `kubectl rollout status` does: one list, then one watch.

The watch follows one object (`fieldSelector=metadata.name=<name>`) from the list's resourceVersion.
If the stream ends early (server timeout, dropped connection) it is resumed from the last
resourceVersion seen; if the server answers 410 Gone/Expired the object is listed again. So the
number of API requests does not grow with the duration of the rollout (2 when nothing drops).

Every event is judged by the same pure `rollout_status` function that the async trigger uses.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from airlock.kube.api import Kube, KubeError
from airlock.kube.status import RolloutStatus, rollout_status

Obj = dict[str, Any]


@dataclass
class WaitResult:
    done: bool
    failed: bool
    timed_out: bool
    message: str
    requests: int = 0  # API requests this wait made (list + watch + resumes)
    stuck_reason: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RolloutWatch:
    """The state of one wait, shared by the sync loop here and the async trigger.

    Feed it list results and watch events; it tracks the resourceVersion to resume from, whether a
    relist is needed, and the latest status.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.resource_version = ""
        self.need_list = True
        self.status: RolloutStatus | None = None
        self.missing = False

    def on_list(self, listed: Obj) -> RolloutStatus | None:
        self.need_list = False
        self.resource_version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        items = listed.get("items") or []
        if not items:
            self.missing = True
            self.status = RolloutStatus(False, True, f'deployment "{self.name}" not found')
            return self.status
        self.status = rollout_status(items[0])
        return self.status

    def on_event(self, event: Obj) -> RolloutStatus | None:
        etype, obj = event.get("type"), event.get("object") or {}
        if etype == "ERROR":
            code = obj.get("code")
            if code in (410, "410") or obj.get("reason") in ("Expired", "Gone"):
                self.need_list = True  # too old: list again, then watch from the new version
                return None
            raise KubeError(int(code or 500), str(obj.get("reason", "")), str(obj.get("message", "")))
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        if etype == "BOOKMARK":
            return None
        if etype == "DELETED":
            self.status = RolloutStatus(False, True, f'deployment "{self.name}" was deleted')
            return self.status
        self.status = rollout_status(obj)
        return self.status

    @property
    def finished(self) -> bool:
        return self.status is not None and (self.status.done or self.status.failed)


def wait_for_rollout(kube: Kube, namespace: str, name: str, timeout: float,
                     log: logging.Logger | None = None) -> WaitResult:
    """Block until Deployment `name` is rolled out, failed, or `timeout` seconds pass."""
    log = log or logging.getLogger("airlock.kube.wait")
    deadline = time.monotonic() + timeout
    state = RolloutWatch(name)
    requests = 0
    last_message = ""
    selector = f"metadata.name={name}"
    while True:
        remaining = deadline - time.monotonic()
        if state.need_list:
            requests += 1
            state.on_list(kube.list("deployments", namespace, field_selector=selector))
        elif remaining > 0.5:  # a server-side watch timeout ends the stream just before our deadline
            requests += 1
            started, events = time.monotonic(), 0
            try:
                for event in kube.watch("deployments", namespace, resource_version=state.resource_version,
                                        field_selector=selector, timeout_seconds=math.ceil(remaining)):
                    events += 1
                    state.on_event(event)
                    if state.need_list or state.finished:
                        break
                    if state.status is not None and state.status.message != last_message:
                        last_message = state.status.message
                        log.info("%s", last_message)
                    if time.monotonic() >= deadline:
                        break
            except (KubeError, OSError, ValueError) as exc:  # dropped stream: resume from the last version
                if isinstance(exc, KubeError) and exc.status == 410:
                    state.need_list = True
                log.info("watch of deployment %s ended (%s); resuming from resourceVersion %s",
                         name, exc, state.resource_version)
                if time.monotonic() < deadline:
                    time.sleep(0.2)
            except Exception as exc:  # urllib3 protocol errors on a dropped connection
                log.info("watch of deployment %s dropped (%s); resuming", name, exc)
                time.sleep(0.2)
            if not events and time.monotonic() - started < 1.0:
                time.sleep(1.0)  # a server that closes streams at once must not be hammered
        status = state.status
        if status is not None and status.message != last_message:
            last_message = status.message
            log.info("%s", last_message)
        if state.finished and status is not None:
            return WaitResult(status.done, status.failed, False, status.message, requests)
        if deadline - time.monotonic() <= 0.5 and not state.need_list:
            message = status.message if status else "no status observed"
            return WaitResult(False, True, True, f'timed out after {timeout:g}s waiting for deployment "{name}": '
                                                 f"{message}", requests)
