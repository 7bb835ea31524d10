"""deploy/rbac.yaml, read as data: every namespace a shipped service spec deploys to has the deployer's
Role and RoleBinding, the namespaced rules are one set, and the cluster-wide part is node reads only.
(That the rules are exactly what Airlock uses is tests/integration/dag/test_least_privilege.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from airlock.spec import load_spec

REPO = Path(__file__).resolve().parents[3]
SA_SUBJECT = {"kind": "ServiceAccount", "name": "deployer", "namespace": "airlock"}


def items() -> list[dict[str, Any]]:
    doc = yaml.safe_load((REPO / "deploy" / "rbac.yaml").read_text(encoding="utf-8"))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    return list(doc["items"])


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [i for i in items() if i["kind"] == kind]


def test_every_namespace_a_service_deploys_to_has_the_role_and_binding():
    namespaces = set()
    for path in sorted((REPO / "dags" / "services").glob("*.yaml")):
        spec = load_spec(path)
        for env in (spec.kubernetes.staging, spec.kubernetes.production):
            if env is not None:
                namespaces.add(env.namespace)
    assert namespaces, "the shipped specs name namespaces"
    roles = {r["metadata"]["namespace"]: r for r in of_kind("Role")}
    bindings = {b["metadata"]["namespace"]: b for b in of_kind("RoleBinding")}
    assert namespaces <= set(roles), f"no Role in {sorted(namespaces - set(roles))}"
    for ns in namespaces:
        binding = bindings[ns]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": roles[ns]["metadata"]["name"],
        }
        assert binding["subjects"] == [SA_SUBJECT]
    accounts = of_kind("ServiceAccount")
    assert [(a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts] == [
        ("airlock", "deployer")
    ]


def test_one_set_of_namespaced_rules_without_wildcards_or_secrets():
    rules = [r["rules"] for r in of_kind("Role")]
    assert rules and all(r == rules[0] for r in rules), "every namespace gets the same rules"
    for rule in rules[0]:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "secrets" not in rule["resources"], rule
        assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate"}, rule
    granted = {(g, r) for rule in rules[0] for g in rule["apiGroups"] for r in rule["resources"]}
    assert len(granted) == sum(len(r["apiGroups"]) * len(r["resources"]) for r in rules[0]), (
        "each (group, resource) has one rule, so its verbs are read in one place"
    )


def test_the_cluster_role_is_node_reads_only():
    (role,) = of_kind("ClusterRole")
    for rule in role["rules"]:
        assert rule["resources"] == ["nodes"] and set(rule["verbs"]) <= {"get", "list", "watch"}, rule
    (binding,) = of_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] and binding["subjects"] == [SA_SUBJECT]
