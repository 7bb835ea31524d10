"""The rollout wait survives dropped watch streams (resume from the last resourceVersion) and 410 Gone
(relist), with a bounded number of requests - over the sync transport and, with the same counts, over
the async one the triggers use; RolloutSensor fails with the stuck reason."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk import DAG
from kubernetes_asyncio import config as async_config

from airlock.kube import rolling
from airlock.kube.api import Kube
from airlock.kube.async_api import AsyncKube
from airlock.kube.async_watch import watch_object
from airlock.kube.diagnose import find_stuck_reason, find_stuck_reason_async
from airlock.kube.wait import judge_rollout, rollout_result, wait_for_rollout
from kubesim.faults import fault_from_dict
from sensors.rollout import RolloutSensor
from tests.fixtures.dag_runner import run_dag
from tests.integration.kube.conftest import IMG, NS

pytestmark = pytest.mark.integration


def test_dropped_watch_is_resumed(sim):
    kube = sim.kube()
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:slow-2", "c")
    sim.world.faults.add(
        fault_from_dict({"drop_watch": True, "path": "/apis/apps/v1/namespaces/*/deployments"})
    )
    res = wait_for_rollout(kube, NS, "web", 30)
    assert res.done, res.message
    assert res.requests == 3, "list + dropped watch + resumed watch (no relist)"


def test_expired_resource_version_relists(sim):
    class CompactingKube(Kube):
        compacted = False

        def list(self, *args, **kwargs):
            out = super().list(*args, **kwargs)
            if not self.compacted and kwargs.get("field_selector"):
                self.compacted = True
                sim.kube().create("configmaps", NS, {"metadata": {"name": "bump"}, "data": {}})
                sim.world.store.compact()  # the list's resourceVersion is now too old to watch from
            return out

    kube = CompactingKube(sim.api_client())
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:slow-2", "c")
    res = wait_for_rollout(kube, NS, "web", 30)
    assert res.done, res.message
    assert res.requests == 4, "list + watch answered 410 + relist + watch"


def async_wait(sim, kube_class=AsyncKube, timeout: float = 30):
    async def main():
        api = await async_config.new_client_from_config(config_file=str(sim.kubeconfig))
        try:
            outcome = await watch_object(kube_class(api), "deployments", NS, "web", judge_rollout, timeout)
        finally:
            await api.close()
        return rollout_result(outcome, "web", timeout)

    return asyncio.run(main())


def test_async_dropped_watch_is_resumed(sim):
    rolling.set_image(sim.kube(), NS, "web", "app", f"{IMG}:slow-2", "c")
    sim.world.faults.add(
        fault_from_dict({"drop_watch": True, "path": "/apis/apps/v1/namespaces/*/deployments"})
    )
    res = async_wait(sim)
    assert res.done, res.message
    assert res.requests == 3, "list + dropped watch + resumed watch (no relist)"


def test_async_expired_resource_version_relists(sim):
    class CompactingAsyncKube(AsyncKube):
        compacted = False

        async def list(self, *args, **kwargs):
            out = await super().list(*args, **kwargs)
            if not self.compacted:
                self.compacted = True
                sim.kube().create("configmaps", NS, {"metadata": {"name": "bump"}, "data": {}})
                sim.world.store.compact()  # the list's resourceVersion is now too old to watch from
            return out

    rolling.set_image(sim.kube(), NS, "web", "app", f"{IMG}:slow-2", "c")
    res = async_wait(sim, CompactingAsyncKube)
    assert res.done, res.message
    assert res.requests == 4, "list + watch answered 410 + relist + watch"


@pytest.mark.parametrize("image, kind", [("bad-pull", "ImagePull"), ("crash", "CrashLoop")])
def test_async_and_sync_diagnosis_agree(sim, image, kind):
    kube = sim.kube()
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:{image}", "c")
    res = wait_for_rollout(kube, NS, "web", 3)
    assert res.timed_out

    async def diagnose_async():
        api = await async_config.new_client_from_config(config_file=str(sim.kubeconfig))
        try:
            return await find_stuck_reason_async(AsyncKube(api), NS, "web")
        finally:
            await api.close()

    found = find_stuck_reason(kube, NS, "web")
    found_async = asyncio.run(diagnose_async())
    assert found is not None and found.kind == kind
    # Crash loops keep counting restarts and logging between the two reads; the verdict must agree.
    assert (found_async.kind, found_async.pod) == (found.kind, found.pod)
    if kind == "CrashLoop":
        assert "FATAL: cannot connect to database" in found.message
        assert "FATAL: cannot connect to database" in found_async.message


def test_rollout_sensor_fails_with_stuck_reason(sim, airflow_db, airflow_connections, capsys, caplog):
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    rolling.set_image(sim.kube(), NS, "web", "app", f"{IMG}:bad-pull", "c")
    with DAG("rollout_sensor_stuck", schedule=None) as dag:
        RolloutSensor(task_id="wait", namespace=NS, deployment="web", timeout=4)
    dr = run_dag(dag)
    ti = dr.get_task_instance("wait")
    assert str(ti.state) == "failed"
    out = capsys.readouterr().out + caplog.text
    assert "running trigger in line" in out, "the sensor deferred to RolloutTrigger"
    assert "timed out after 4s" in out and "cannot pull image reg.example/web:bad-pull" in out
