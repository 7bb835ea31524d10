"""RolloutTrigger: waits in the triggerer for a Deployment to roll out, with kubectl's rules.

Watch-based (one list + one watch with fieldSelector metadata.name, resumed on disconnect, relisted on
410) through `AsyncKubernetesHook` + kubernetes_asyncio; each event is judged by the core's pure
`rollout_status`. On failure or timeout it also reads the new ReplicaSet's pods and reports the
stuck reason (image pull, crash loop with restarts and last log lines, unschedulable, readiness).

`extra` is echoed back in the event: the deferring operator's state for its resume method (dag.test()
replaces a deferral's kwargs with the event, the triggerer merges them; the echo works under both).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.kube.api import match_labels_selector, path
from airlock.kube.async_watch import watch_object
from airlock.kube.status import controlled_by, new_replicaset, pod_reason, rollout_status, stuck_reason
from triggers.stale_event_guard import hold_until_settled


def judge_rollout(deployment: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    status = rollout_status(deployment)
    return status.done or status.failed, status.as_dict()


async def _get_json(api_client: Any, url: str, query: list[tuple[str, Any]] | None = None) -> Any:
    resp = await api_client.call_api(url, "GET", query_params=query or [], header_params={"Accept": "*/*"},
                                     auth_settings=["BearerToken"], _preload_content=False,
                                     _return_http_data_only=True, _request_timeout=30)
    text = (await resp.read()).decode("utf-8", errors="replace")
    resp.release()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def async_stuck_reason(api_client: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The same diagnosis as airlock.kube.diagnose.find_stuck_reason, with async reads."""
    try:
        dep = await _get_json(api_client, path("deployments", namespace, name))
        if not isinstance(dep, dict) or dep.get("kind") == "Status":
            return None
        sel = match_labels_selector((dep.get("spec") or {}).get("selector"))
        rss = (await _get_json(api_client, path("replicasets", namespace), [("labelSelector", sel)])).get("items", [])
        rs = new_replicaset(dep, rss)
        if rs is None:
            return None
        pods = (await _get_json(api_client, path("pods", namespace),
                                [("labelSelector", match_labels_selector(rs["spec"].get("selector")))])).get("items", [])
        pods = [p for p in pods if controlled_by(p, rs)]
        logs: dict[str, list[str]] = {}
        for pod in pods:
            reason = pod_reason(pod)
            if reason is not None and reason.kind == "CrashLoop":
                pname = pod["metadata"]["name"]
                text = await _get_json(api_client, path("pods", namespace, pname, "log"),
                                       [("tailLines", 20), ("previous", "true")])
                if isinstance(text, str):
                    logs[pname] = [ln for ln in text.splitlines() if ln.strip()]
                break
        found = stuck_reason(pods, logs)
        return found.as_dict() if found else None
    except Exception:  # the diagnosis must never hide the timeout itself
        return None


class RolloutTrigger(BaseTrigger):
    def __init__(self, conn_id: str, namespace: str, deployment: str, timeout: float,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.extra = extra or {}
        self.conn_id = conn_id
        self.namespace = namespace
        self.deployment = deployment
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("triggers.rollout.RolloutTrigger",
                {"conn_id": self.conn_id, "namespace": self.namespace, "deployment": self.deployment,
                 "timeout": self.timeout, "extra": self.extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        hook = AsyncKubernetesHook(conn_id=self.conn_id)
        async with hook.get_conn() as api_client:
            result = await watch_object(api_client, "deployments", self.namespace, self.deployment, judge_rollout,
                                        self.timeout, log=self.log)
            last = result["last"] or {}
            event: dict[str, Any] = {"deployment": self.deployment, "namespace": self.namespace,
                                     "requests": result["requests"], "message": last.get("message", ""),
                                     "extra": self.extra}
            if result["timed_out"]:
                event["status"] = "timeout"
                event["message"] = (f'timed out after {self.timeout:g}s waiting for deployment "{self.deployment}": '
                                    f"{last.get('message', 'no status observed')}")
            elif last.get("done"):
                event["status"] = "success"
            else:
                event["status"] = "failed"
            if event["status"] != "success":
                event["stuck_reason"] = await async_stuck_reason(api_client, self.namespace, self.deployment)
            await hold_until_settled(started)
            yield TriggerEvent(event)
