"""How many API requests does a rollout wait make? Constant, whatever the rollout's duration.

    uv run --frozen python bench/rollout_requests.py

Starts kubesim, rolls a Deployment to a new image whose pods become ready quickly (short rollout) or
slowly (long rollout, more replicas, one pod at a time), and counts the HTTP requests that
`airlock.kube.wait.wait_for_rollout` (sync transport) and the async `watch_object` used by RolloutTrigger
(async transport) send while waiting - both driven by the same `airlock.kube.watch.WatchSession`: one
list + one watch, or 1 when the rollout is already done at the list. A polling loop at kubectl's old
1 s interval is shown for contrast.
Requests are counted at the client's transport (every call through the ApiClient's REST client).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / "plugins"),
    str(Path(__file__).resolve().parent.parent),
]

from kubernetes import config as k8s_config  # noqa: E402

from airlock.kube import rolling  # noqa: E402
from airlock.kube.api import Kube  # noqa: E402
from airlock.kube.async_api import AsyncKube  # noqa: E402
from airlock.kube.async_watch import watch_object  # noqa: E402
from airlock.kube.status import rollout_status  # noqa: E402
from airlock.kube.wait import judge_rollout, wait_for_rollout  # noqa: E402
from kubesim.server import serve, shutdown  # noqa: E402
from kubesim.world import World  # noqa: E402

NS = "production"
CASES = {  # name: (replicas, seconds until a new pod is ready)
    "short": (2, 0.2),
    "long": (6, 4.0),
}


def scenario() -> dict[str, Any]:
    objects = []
    images: dict[str, Any] = {"*": {"ready_after_seconds": 0.2}}
    for name, (replicas, ready) in CASES.items():
        images[f"bench/{name}:2"] = {"ready_after_seconds": ready}
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "app", "image": f"bench/{name}:1"}]},
                    },
                },
            }
        )
    return {"namespaces": [NS], "images": images, "objects": objects}


def counting_client(kubeconfig: str) -> tuple[Any, list[int]]:
    api = k8s_config.new_client_from_config(config_file=kubeconfig)
    count = [0]
    real = api.rest_client.request

    def request(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return real(*args, **kwargs)

    api.rest_client.request = request
    return api, count


async def async_wait(kubeconfig: str, name: str) -> tuple[int, float, bool]:
    from kubernetes_asyncio import config as async_config

    api = await async_config.new_client_from_config(config_file=kubeconfig)
    count = [0]
    real = api.rest_client.request

    async def request(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await real(*args, **kwargs)

    api.rest_client.request = request
    start = time.monotonic()
    try:
        res = await watch_object(AsyncKube(api), "deployments", NS, name, judge_rollout, 120)
    finally:
        await api.close()
    return count[0], time.monotonic() - start, bool((res.last or {}).get("done"))


def poll_wait(kube: Kube, name: str, interval: float = 1.0) -> None:
    while not rollout_status(kube.get("deployments", NS, name) or {}).done:
        time.sleep(interval)


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("sync watch (wait_for_rollout)", "async watch (RolloutTrigger)", "polling every 1 s"):
            world = World(scenario())
            server, thread = serve(world)
            kubeconfig = os.path.join(tmp, "sim.kubeconfig")
            Path(kubeconfig).write_text(
                '{"apiVersion":"v1","kind":"Config","current-context":"s","clusters":[{"name":"s","cluster":'
                f'{{"server":"{server.url}"}}}}],"users":[{{"name":"s","user":{{"token":"t"}}}}],'
                '"contexts":[{"name":"s","context":{"cluster":"s","user":"s"}}]}'
            )
            try:
                for name in CASES:
                    writer = Kube(k8s_config.new_client_from_config(config_file=kubeconfig))
                    wait_for_rollout(writer, NS, name, 60)  # initial rollout, not measured
                    rolling.set_image(writer, NS, name, "app", f"bench/{name}:2", "bench")
                    start = time.monotonic()
                    if mode.startswith("sync"):
                        api, count = counting_client(kubeconfig)
                        done = wait_for_rollout(Kube(api), NS, name, 120).done
                        n = count[0]
                    elif mode.startswith("async"):
                        n, _, done = asyncio.run(async_wait(kubeconfig, name))
                    else:
                        api, count = counting_client(kubeconfig)
                        poll_wait(Kube(api), name)
                        n, done = count[0], True
                    rows.append((mode, name, time.monotonic() - start, n, done))
            finally:
                shutdown(server, thread)
    print(f"{'wait':32} {'rollout':8} {'duration':>10} {'API requests':>13}  done")
    for mode, name, secs, n, done in rows:
        print(f"{mode:32} {name:8} {secs:9.1f}s {n:13d}  {done}")
    by_mode: dict[str, list[int]] = {}
    for mode, _name, _secs, n, _done in rows:
        by_mode.setdefault(mode, []).append(n)
    for mode, counts in by_mode.items():
        verdict = "constant: one list + one watch" if max(counts) <= 2 else "grows with duration"
        print(f"{mode}: short={counts[0]} long={counts[1]} -> {verdict}")
    ok = all(done for *_, done in rows) and all(max(by_mode[m]) <= 2 for m in list(by_mode)[:2])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
