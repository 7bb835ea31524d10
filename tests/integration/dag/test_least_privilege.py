"""Issue 13 point 5: `deploy/rbac.yaml` is exactly what Airlock needs, proven with RBAC enforced.

kubesim runs with bearer-token authentication and RBAC (kubesim/rbac.py); its RBAC objects are the
ones in deploy/rbac.yaml, loaded as they are written, and Airflow's `kubernetes_default` connection
authenticates as the ServiceAccount `airlock/deployer` they bind. Then `deploy_demo-api` runs under
dag.test() against the same world as tests/integration/dag/test_deploy_dag.py (real Prometheus and
Alertmanager, a Slack receiver):

* least privilege is enough: a canary that is rolled back, a rolling update that gets stuck and is
  undone, and a blue-green with a migration Job and staging all end as they do with an unrestricted
  token, and no request is refused;
* and nothing more: the (verb, resource) pairs kubesim's access log saw from the ServiceAccount
  equal the pairs the Roles and the ClusterRole grant - no unused grant, nothing missing;
* a missing verb (patch on deployments removed from the Role) fails the run at its first patch,
  with the apiserver's 403 message naming verb, resource, API group and namespace in the task log,
  not retried, and production untouched.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.testing import Sim, run_kubesim
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.prometheus import wait_for_series
from tests.fixtures.slack_receiver import SlackReceiver
from tests.integration.dag.conftest import IMAGE, NS, Observability, build_dag, demo_spec, dump, scenario

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
RBAC_FILE = REPO / "deploy" / "rbac.yaml"
DEPLOYER = "system:serviceaccount:airlock:deployer"
TOKEN = "airlock-deployer-token"
NO_STAGING = {"kubernetes": {"staging": None}}
MIGRATION = {"migration": {"command": ["migrate", "up"], "reversible": True, "timeout": "30s"}}

_seeds = itertools.count(901)  # pod names differ from every other test's

Grant = tuple[
    str, str, str, str
]  # (scope: "namespaced" | "cluster", verb, API group, resource[/subresource])


def rbac_items() -> list[dict[str, Any]]:
    """deploy/rbac.yaml's objects, as `kubectl apply -f` would send them (a List's items)."""
    doc = yaml.safe_load(RBAC_FILE.read_text(encoding="utf-8"))
    assert doc["kind"] == "List", "deploy/rbac.yaml is one v1 List"
    return copy.deepcopy(list(doc["items"]))


def without_verb(items: list[dict[str, Any]], verb: str, group: str, resource: str) -> list[dict[str, Any]]:
    """The same objects with `verb` on `resource` taken out of every Role."""
    out = copy.deepcopy(items)
    removed = 0
    for item in out:
        if item["kind"] != "Role":
            continue
        for rule in item["rules"]:
            if (
                group in rule.get("apiGroups", [])
                and resource in rule.get("resources", [])
                and verb in rule["verbs"]
            ):
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
                removed += 1
    assert removed, f"deploy/rbac.yaml grants no {verb} on {resource}.{group}: nothing to remove"
    return out


def granted(items: Iterable[dict[str, Any]]) -> set[Grant]:
    """Every (scope, verb, group, resource) the deployer's Roles and ClusterRoles grant."""
    out: set[Grant] = set()
    for item in items:
        if item["kind"] not in ("Role", "ClusterRole"):
            continue
        scope = "namespaced" if item["kind"] == "Role" else "cluster"
        for rule in item["rules"]:
            for verb in rule["verbs"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        out.add((scope, verb, group, resource))
    return out


def used(sim: Sim) -> set[Grant]:
    """Every (scope, verb, group, resource) the deployer asked for, from kubesim's access log."""
    return {
        ("namespaced" if e["namespace"] else "cluster", e["verb"], e["group"], e["resource"])
        for e in sim.access_log()
        if e["user"] == DEPLOYER
    }


@dataclass
class LeastPrivilegeWorld:
    sim: Sim
    slack: SlackReceiver

    def get(self, key: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
        """An object straight from kubesim's store (the test's reads need no token)."""
        return self.sim.world.store.get(key, namespace, name)

    def image(self, name: str = "demo-api", namespace: str = NS) -> str:
        dep = self.get("apps/deployments", name, namespace)
        assert dep is not None, f"deployment {namespace}/{name} does not exist"
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def denied(self) -> list[dict[str, Any]]:
        return [e for e in self.sim.access_log() if e["user"] == DEPLOYER and not e["allowed"]]


@contextmanager
def least_privilege_world(
    obs: Observability, set_conn: Callable[[str, Any], None], items: list[dict[str, Any]]
) -> Generator[LeastPrivilegeWorld, None, None]:
    """conftest's world with RBAC enforced, `items` as its RBAC objects, Airflow authenticated as the deployer."""
    world = scenario(next(_seeds))
    world["namespaces"] = [*world["namespaces"], "airlock"]
    world["objects"] = [*world["objects"], *items]
    slack = SlackReceiver()
    with run_kubesim(world, tokens={TOKEN: DEPLOYER}) as sim:
        kubeconfig = sim.write_kubeconfig(Path(sim.kubeconfig).with_name("deployer.kubeconfig"), TOKEN)
        obs.relay.target = f"{sim.url}/metrics"
        set_conn("kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": kubeconfig}})
        set_conn("prometheus_default", {"conn_type": "http", "host": obs.prometheus})
        set_conn("alertmanager_default", {"conn_type": "http", "host": obs.alertmanager.url})
        set_conn("airlock_app_http", {"conn_type": "http", "host": sim.url})
        set_conn("slack_deployments", slack.connection())
        try:
            pods = sorted(p["metadata"]["name"] for p in sim.world.store.list("/pods", NS))
            assert pods, "the scenario's production pods exist"
            wait_for_series(
                obs.prometheus,
                f'count_over_time(http_requests_total{{namespace="{NS}",pod="{pods[0]}"}}[1m]) >= 2',
                timeout=30,
            )
            sim.clear_audit()
            sim.clear_access_log()
            yield LeastPrivilegeWorld(sim, slack)
        finally:
            obs.relay.target = None
            slack.stop()


def deploy(spec: Any = None, **conf: Any) -> Any:
    return run_dag(build_dag(spec), run_conf={"window": "now", **conf})


def states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


@pytest.mark.timeout(1500)  # six deployments in two worlds on a shared 2-core machine
def test_rbac_yaml_is_enough_and_exact(
    observability: Observability, airflow_db: Any, airflow_connections: Any
) -> None:
    items = rbac_items()
    observed: set[Grant] = set()
    namespaces: set[str] = set()

    def account(world: LeastPrivilegeWorld) -> None:
        assert world.denied() == [], f"least privilege refused requests:\n{dump(world.denied())}"
        observed.update(used(world.sim))
        namespaces.update(e["namespace"] for e in world.sim.access_log() if e["user"] == DEPLOYER)

    with least_privilege_world(observability, airflow_connections, items) as world:
        # 1. a canary that fails its first analysis is rolled back
        dr = deploy(demo_spec(**NO_STAGING), version="v3.0.0", strategy="canary")
        st = states(dr)
        assert str(dr.state) == "failed" and st["production.canary.analysis_1"] == "failed", dump(st)
        assert st["rollback"] == "success" and st["release_lock"] == "success", dump(st)
        assert xcom_value(dr, "rollback")["healthy"] is True
        assert world.image() == f"{IMAGE}:v1" and world.get("apps/deployments", "demo-api-canary") is None

        # 2. a rolling update stuck on an image pull is diagnosed (events) and undone
        dr = deploy(demo_spec(**NO_STAGING), version="v4.0.0", strategy="rolling")
        st = states(dr)
        assert str(dr.state) == "failed" and st["production.rolling.update"] == "failed", dump(st)
        assert st["rollback"] == "success", dump(st)
        stuck = xcom_value(dr, "production.rolling.update", key="failure_reason")
        assert "pull" in stuck.lower(), stuck
        assert world.image() == f"{IMAGE}:v1"

        # 3. a rollback that fails (the API refuses to remove the canary) stops the line on the cluster
        world.sim.inject_fault(
            "DELETE", f"/apis/apps/v1/namespaces/{NS}/deployments/demo-api-canary", status=422, count=1000
        )
        dr = deploy(demo_spec(**NO_STAGING), version="v3.0.0", strategy="canary")
        st = states(dr)
        assert str(dr.state) == "failed" and st["rollback"] == "failed", dump(st)
        assert world.get("/configmaps", "airlock-stop-demo-api") is not None, "the line is stopped"
        world.sim.clear_faults()
        account(world)

    with least_privilege_world(observability, airflow_connections, items) as world:
        # 4. staging, then a migration Job and a blue-green switch in production
        dr = deploy(demo_spec(**MIGRATION), version="v2.0.0", strategy="blue_green")
        st = states(dr)
        assert str(dr.state) == "success", dump(st)
        for task in (
            "staging.deploy",
            "production.migrate",
            "production.blue_green.switch",
            "validation.log_scan",
        ):
            assert st[task] == "success", (task, dump(st))
        assert world.image("demo-api-green") == f"{IMAGE}:v2.0.0"
        service = world.get("/services", "demo-api")
        assert service is not None and service["spec"]["selector"]["track"] == "green", dump(service)
        account(world)

    grants = granted(items)
    assert observed == grants, (
        f"deploy/rbac.yaml is not exact.\n"
        f"used but not granted: {sorted(observed - grants)}\n"
        f"granted but never used: {sorted(grants - observed)}"
    )
    # the Role is used in both namespaces it is bound in, the ClusterRole at the cluster scope
    assert namespaces == {"staging", NS, ""}, namespaces


def test_a_missing_verb_fails_the_run_naming_verb_and_resource(
    observability: Observability,
    airflow_db: Any,
    airflow_connections: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = without_verb(rbac_items(), "patch", "apps", "deployments")
    with least_privilege_world(observability, airflow_connections, items) as world:
        capsys.readouterr()
        dr = deploy(version="v2.0.0", strategy="rolling")
        task_log = capsys.readouterr().out  # task logs go through structlog to stdout under dag.test()

        st = states(dr)
        assert str(dr.state) == "failed", dump(st)
        # the first patch of the run is the rollback plan's annotation on the staging Deployment
        assert st["staging.record_rollback_plan"] == "failed", dump(st)
        message = (
            'deployments.apps "demo-api" is forbidden: User "system:serviceaccount:airlock:deployer" '
            'cannot patch resource "deployments" in API group "apps" in the namespace "staging"'
        )
        call = "PATCH /apis/apps/v1/namespaces/staging/deployments/demo-api: 403 Forbidden: "
        assert call + message in task_log, task_log[-6000:]
        assert "not retried: the answer is not a transient error" in task_log, task_log[-6000:]

        # kubesim refused exactly that, once per call: a 403 is never retried
        denied = world.denied()
        assert denied and {(e["verb"], e["resource"], e["namespace"]) for e in denied} == {
            ("patch", "deployments", "staging")
        }, dump(denied)
        retried = [w for w in task_log.splitlines() if "retrying in" in w and "403" in w]
        assert retried == [], retried
        # nothing but the deploy lock reached production, and the record says why the run failed
        prod_writes = [
            e for e in world.sim.audit() if f"/namespaces/{NS}/" in e["path"] and "/leases" not in e["path"]
        ]
        assert prod_writes == [], dump(prod_writes)
        assert world.image() == f"{IMAGE}:v1"
        record = xcom_value(dr, "record")
        assert (record["outcome"], record["stopped_in"], record["production_changed"]) == (
            "failed",
            "staging",
            False,
        ), dump(record)
        assert "staging.record_rollback_plan failed" in record["reason"], record["reason"]
