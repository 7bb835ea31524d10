"""kubectl 1.32 as the oracle for kubesim's authentication and RBAC, and for deploy/rbac.yaml itself.

An operator's path, step by step: `kubectl apply -f deploy/rbac.yaml` as the cluster admin (the
List and its YAML anchors are read by kubectl, not by us), `kubectl create token deployer -n airlock`
(TokenRequest), then a kubeconfig with that token: `kubectl auth can-i` (SelfSubjectAccessReview)
answers what the Role grants, kubectl's own requests are allowed or refused with the apiserver's
403 text, and a wrong token is "You must be logged in to the server (Unauthorized)".
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubesim.resources import lookup
from kubesim.testing import Sim
from tests.fixtures.kubesim import KUBECTL, make_deployment

REPO = Path(__file__).resolve().parents[3]
DEPLOYER = "system:serviceaccount:airlock:deployer"

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed"),
    pytest.mark.kubesim_scenario({"namespaces": ["airlock", "staging", "production"]}),
    pytest.mark.kubesim_tokens({}),  # authentication and RBAC on; only the superuser token "kubesim"
]


def kubectl(
    kubeconfig: str, tmp_path: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [KUBECTL or "kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def deployer(kubesim: Sim, tmp_path: Path) -> Any:
    """deploy/rbac.yaml applied by the admin with kubectl, and a kubectl runner for the deployer's token."""
    admin = kubesim.kubeconfig
    applied = kubectl(admin, tmp_path, "apply", "-f", str(REPO / "deploy" / "rbac.yaml"), "--validate=false")
    for created in (
        "serviceaccount/deployer",
        "role.rbac.authorization.k8s.io/airlock-deployer",
        "rolebinding.rbac.authorization.k8s.io/airlock-deployer",
        "clusterrole.rbac.authorization.k8s.io/airlock-deployer-nodes",
        "clusterrolebinding.rbac.authorization.k8s.io/airlock-deployer-nodes",
    ):
        assert created in applied.stdout, applied.stdout
    # the anchored rules reached both namespaces' Roles, as written
    store = kubesim.world.store
    staging = store.get("rbac.authorization.k8s.io/roles", "staging", "airlock-deployer")
    production = store.get("rbac.authorization.k8s.io/roles", "production", "airlock-deployer")
    assert staging and production and staging["rules"] == production["rules"] and staging["rules"]

    token = kubectl(admin, tmp_path, "create", "token", "deployer", "-n", "airlock").stdout.strip()
    assert token, "kubectl create token printed a token"
    config = kubesim.write_kubeconfig(tmp_path / "deployer.kubeconfig", token, tls=True)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(config, tmp_path, *args, check=check)

    return run


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (("patch", "deployments.apps", "-n", "production"), "yes"),
        (("watch", "deployments.apps", "-n", "staging"), "yes"),
        (("get", "pods", "--subresource=log", "-n", "production"), "yes"),
        (("update", "leases.coordination.k8s.io", "-n", "production"), "yes"),
        (("list", "nodes"), "yes"),
        (("list", "nodes.metrics.k8s.io"), "yes"),
        # what Airlock never does is not granted
        (("update", "deployments.apps", "-n", "production"), "no"),
        (("delete", "services", "-n", "default"), "no"),
        (("get", "secrets", "-n", "production"), "no"),
        (("get", "nodes"), "no"),
        (("create", "pods", "-n", "production"), "no"),
        (("patch", "deployments.apps", "--subresource=scale", "-n", "production"), "no"),
    ],
)
def test_kubectl_auth_can_i_answers_what_the_role_grants(deployer, question, answer):
    proc = deployer("auth", "can-i", *question, check=False)
    assert proc.stdout.strip() == answer, (proc.stdout, proc.stderr)
    assert proc.returncode == (0 if answer == "yes" else 1)


def test_kubectl_as_the_deployer_is_allowed_and_refused_like_by_an_apiserver(kubesim, deployer, tmp_path):
    assert (
        "No resources found in production namespace."
        in deployer("get", "deployments", "-n", "production").stderr
    )
    refused = deployer("get", "secrets", "-n", "production", check=False)
    assert refused.returncode != 0
    assert (
        'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:airlock:deployer" '
        'cannot list resource "secrets" in API group "" in the namespace "production"'
    ) in refused.stderr
    # kubectl scale reads the Deployment, then patches its scale subresource, which Airlock never uses
    apps = kubesim.world.api
    apps.create(lookup("apps", "v1", "deployments"), "production", make_deployment("demo-api", "production"))
    refused = deployer("scale", "deployment", "demo-api", "--replicas=1", "-n", "production", check=False)
    assert (
        'Error from server (Forbidden): deployments.apps "demo-api" is forbidden: User '
        '"system:serviceaccount:airlock:deployer" cannot patch resource "deployments/scale" in API group "apps" '
        'in the namespace "production"'
    ) in refused.stderr, refused.stderr
    assert any(
        e["user"] == DEPLOYER and (e["verb"], e["resource"], e["allowed"]) == ("list", "secrets", False)
        for e in kubesim.access_log()
    )

    wrong = kubesim.write_kubeconfig(tmp_path / "wrong.kubeconfig", "not-a-token", tls=True)
    proc = kubectl(wrong, tmp_path, "get", "pods", "-n", "production", check=False)
    assert proc.returncode != 0
    assert "You must be logged in to the server (Unauthorized)" in proc.stderr, proc.stderr
