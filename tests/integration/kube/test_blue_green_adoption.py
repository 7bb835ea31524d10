"""The first blue-green run adopts a plain Deployment without restarting it (issue 11, point 6).

Against kubesim over HTTP: its Deployment controller decides whether a template change makes a new
ReplicaSet (a restart), its endpoints controller decides which pods the live Service sends traffic to,
and its traffic model spreads the Service's requests over those endpoints.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import pytest
from kubernetes import client as k8s_client

from airlock.kube import blue_green, rollback, rolling
from airlock.kube.plan import record_plan
from airlock.kube.wait import wait_for_rollout
from tests.integration.kube.conftest import IMG, NS, SCENARIO

pytestmark = pytest.mark.integration


def _scenario() -> dict[str, Any]:
    scenario = copy.deepcopy(SCENARIO)
    scenario["services"] = {f"{NS}/web": {"rps": 400}}
    return scenario


def _ready(kube: Any, name: str) -> None:
    res = wait_for_rollout(kube, NS, name, 30.0)
    assert res.done, res.message


def _endpoints(core: k8s_client.CoreV1Api, service: str = "web") -> set[str]:
    ep = core.read_namespaced_endpoints(service, NS)
    return {
        addr.target_ref.name
        for subset in ep.subsets or []
        for addr in [*(subset.addresses or []), *(subset.not_ready_addresses or [])]
        if addr.target_ref is not None
    }


def _pods(kube: Any, **labels: str) -> set[str]:
    return {p["metadata"]["name"] for p in kube.items("pods", NS, label_selector=labels)}


def _web_pods(kube: Any) -> set[str]:
    """Pods of the plain Deployment "web" (not green's, which carry the app label too)."""
    return {
        p["metadata"]["name"]
        for p in kube.items("pods", NS, label_selector={"app": "web"})
        if p["metadata"]["name"].startswith("web-") and not p["metadata"]["name"].startswith("web-green-")
    }


def _web_replicasets(kube: Any) -> set[str]:
    web = kube.get("deployments", NS, "web")
    uid = web["metadata"]["uid"]
    return {
        rs["metadata"]["name"]
        for rs in kube.items("replicasets", NS)
        if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
    }


def _served(sim: Any) -> dict[str, int]:
    sim.world.traffic_checkpoint()
    out: dict[str, int] = {}
    for (ns, svc, pod, _v, _t, _c), count, _b, _s in sim.world.traffic.snapshot():
        if ns == NS and svc == "web":
            out[pod] = out.get(pod, 0) + count
    return out


class EndpointSampler:
    """Reads the live Service's Endpoints every 20 ms in a thread, until stopped."""

    def __init__(self, core: k8s_client.CoreV1Api) -> None:
        self.core = core
        self.samples: list[set[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(_endpoints(self.core))
            time.sleep(0.02)

    def __enter__(self) -> EndpointSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _first_run_up_to_the_switch(sim: Any, spec: Any) -> dict[str, Any]:
    """What BlueGreenDeployOperator does on the first run, sampling the live endpoints throughout."""
    kube = sim.kube()
    core = k8s_client.CoreV1Api(sim.api_client())
    _ready(kube, "web")
    before = {
        "pods": _web_pods(kube),
        "replicasets": _web_replicasets(kube),
        "template": copy.deepcopy(kube.get("deployments", NS, "web")["spec"]["template"]),
    }
    assert _endpoints(core) == before["pods"]
    plan = record_plan(kube, spec, NS, "blue_green", "run-1", "2", f"{IMG}:2")
    with EndpointSampler(core) as sampler:
        if blue_green.adopt_blue(kube, spec, NS):
            _ready(kube, "web")
            assert blue_green.pin_service_to_blue(kube, spec, NS)
        new = blue_green.deploy_new_colour(kube, spec, NS, f"{IMG}:2", "c")
        assert new.colour == "green"
        _ready(kube, new.deployment)
        preview = blue_green.ensure_preview_service(kube, spec, NS, new.colour)
        green = _pods(kube, app="web", track="green")
        time.sleep(0.3)  # green ready for a while: the live Service must still not have it
        assert len(green) == 3 and _endpoints(core, preview["name"]) == green, "the preview reaches green"
        served = _served(sim)
    assert len(sampler.samples) >= 10, len(sampler.samples)
    leaked = [s & green for s in sampler.samples if s & green]
    assert not leaked, f"live traffic reached green before the switch: {leaked[:3]}"
    assert all(s == before["pods"] for s in sampler.samples), "the live Service kept exactly the old pods"
    assert not {p: n for p, n in served.items() if p in green}, served
    assert all(served.get(p, 0) > 0 for p in before["pods"]), served
    return {"kube": kube, "core": core, "plan": plan, "before": before, "green": green}


def test_first_blue_green_run_restarts_no_production_pod(make_sim, spec):
    sim = make_sim(_scenario())
    run = _first_run_up_to_the_switch(sim, spec)
    kube, before = run["kube"], run["before"]
    # adoption changed nothing in blue's pods: same template, same ReplicaSet, the very same pods
    web = kube.get("deployments", NS, "web")
    assert web["spec"]["template"] == before["template"]
    assert _web_replicasets(kube) == before["replicasets"]
    assert _web_pods(kube) == before["pods"]
    web_writes = [w for w in sim.writes() if w["path"].endswith("/deployments/web")]
    assert len(web_writes) == 1, web_writes  # the rollback plan annotation only
    selector = kube.get("services", NS, "web")["spec"]["selector"]
    [rs] = before["replicasets"]
    assert selector == {"app": "web", "pod-template-hash": rs.rsplit("-", 1)[1]}

    # the switch: traffic goes to green only, the old pods stay up (not restarted) for a rollback
    switched = blue_green.switch_traffic(kube, spec, NS, "green")
    assert switched["to"] == {"app": "web", "track": "green"}
    assert _endpoints(run["core"]) == run["green"]
    assert _web_pods(kube) == before["pods"]


def test_rollback_after_the_switch_sends_traffic_back_without_restarting(make_sim, spec):
    sim = make_sim(_scenario())
    run = _first_run_up_to_the_switch(sim, spec)
    kube, core, plan, before, green = run["kube"], run["core"], run["plan"], run["before"], run["green"]
    blue_green.switch_traffic(kube, spec, NS, "green")
    assert _endpoints(core) == green

    actions = rollback.rollback_actions(kube, spec, plan)
    # the recorded selector {app: web} also selects green: first back to the old pods, then green goes
    assert [a.kind for a in actions] == ["restore_selector", "scale", "restore_selector", "delete_preview"]
    assert actions[2].args["selector"] == plan.service_selector == {"app": "web"}
    for action in actions:  # one write at a time: after each, the live Service never includes green
        rollback.apply_rollback(kube, spec, plan, [action])
        assert _endpoints(core) == before["pods"], action.what
    assert kube.get("services", NS, "web")["spec"]["selector"] == {"app": "web"}
    assert kube.get("deployments", NS, "web-green")["spec"]["replicas"] == 0
    assert _web_pods(kube) == before["pods"], "the old pods were never restarted"
    assert _web_replicasets(kube) == before["replicasets"]
    assert rollback.rollback_actions(kube, spec, plan) == []


def test_rollback_before_the_switch_never_sends_live_traffic_to_green(make_sim, spec):
    sim = make_sim(_scenario())
    run = _first_run_up_to_the_switch(sim, spec)  # e.g. green failed its preview checks
    kube, core, plan, before = run["kube"], run["core"], run["plan"], run["before"]
    actions = rollback.rollback_actions(kube, spec, plan)
    assert [a.kind for a in actions] == ["scale", "restore_selector", "delete_preview"]
    for action in actions:
        rollback.apply_rollback(kube, spec, plan, [action])
        assert _endpoints(core) == before["pods"], action.what
    assert kube.get("services", NS, "web")["spec"]["selector"] == {"app": "web"}
    assert _web_pods(kube) == before["pods"]


def test_the_next_release_goes_to_blue_and_alternates(make_sim, spec):
    sim = make_sim(_scenario())
    run = _first_run_up_to_the_switch(sim, spec)
    kube, core = run["kube"], run["core"]
    blue_green.switch_traffic(kube, spec, NS, "green")
    blue_green.remove_preview_service(kube, spec, NS)
    assert kube.get("deployments", NS, "web")["spec"]["replicas"] == 3
    assert rolling.scale(kube, NS, "web", 0)  # what the DAG's retire step does after keep_old_for
    green = run["green"]

    # run 2: blue gets the release (and, now that it serves nothing, its colour label)
    assert not blue_green.adopt_blue(kube, spec, NS), "the Service already selects a colour"
    with EndpointSampler(core) as sampler:
        new = blue_green.deploy_new_colour(kube, spec, NS, f"{IMG}:3", "c")
        assert (new.colour, new.deployment) == ("blue", "web")
        _ready(kube, "web")
        preview = blue_green.ensure_preview_service(kube, spec, NS, "blue")
        blue = _pods(kube, app="web", track="blue")
        assert len(blue) == 3 and _endpoints(core, preview["name"]) == blue
    assert all(s == green for s in sampler.samples), "green keeps all live traffic until the switch"
    assert blue_green.switch_traffic(kube, spec, NS, "blue")["to"] == {"app": "web", "track": "blue"}
    assert _endpoints(core) == blue
    # run 3 goes to green again
    assert rolling.scale(kube, NS, "web-green", 0)
    assert blue_green.deploy_new_colour(kube, spec, NS, f"{IMG}:4", "c").colour == "green"


def test_the_pin_waits_for_a_complete_rollout_of_blue(sim, spec):
    # mid-rollout, a pin to the newest ReplicaSet would drop the old one's serving pods from the Service
    kube = sim.kube()
    _ready(kube, "web")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:slow-1", "c")
    assert blue_green.adopt_blue(kube, spec, NS)
    with pytest.raises(RuntimeError, match="rollout is not complete"):
        blue_green.pin_service_to_blue(kube, spec, NS)
    assert kube.get("services", NS, "web")["spec"]["selector"] == {"app": "web"}
    _ready(kube, "web")
    assert blue_green.pin_service_to_blue(kube, spec, NS)
    assert _endpoints(k8s_client.CoreV1Api(sim.api_client())) == _web_pods(kube)
    assert not blue_green.pin_service_to_blue(kube, spec, NS), "a retry writes nothing"
