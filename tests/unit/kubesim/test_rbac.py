"""kubesim's opt-in authentication and RBAC (kubesim/auth.py, kubesim/rbac.py): the rules, the request
attributes, the apiserver's 401/403 answers over real HTTP, SelfSubjectAccessReview, TokenRequest,
the access log, and the `python -m kubesim --token-auth-file` CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubesim.auth import Authenticator, User, parse_token_file, service_account_user, user_named
from kubesim.clock import Clock
from kubesim.rbac import (
    AccessControl,
    Attributes,
    applies_to,
    authorize,
    forbidden,
    request_attributes,
    rule_allows,
)
from kubesim.store import Store
from kubesim.testing import run_kubesim
from tests.fixtures.kubesim import make_configmap, make_deployment

REPO = Path(__file__).resolve().parents[3]
DEPLOYER = "system:serviceaccount:airlock:deployer"
SA = service_account_user("airlock", "deployer")
RBAC_V1 = "rbac.authorization.k8s.io/v1"


def role(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": list(rules),
    }


def cluster_role(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}


def binding(
    name: str, ref_kind: str, ref: str, namespace: str | None, *subjects: dict[str, Any]
) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if namespace:
        md["namespace"] = namespace
    return {
        "apiVersion": RBAC_V1,
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": md,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref},
        "subjects": list(subjects),
    }


def sa_subject(namespace: str | None = "airlock") -> dict[str, Any]:
    s = {"kind": "ServiceAccount", "name": "deployer"}
    if namespace:
        s["namespace"] = namespace
    return s


def attrs(
    verb: str, resource: str, namespace: str = "prod", *, group: str = "apps", sub: str = "", name: str = ""
) -> Attributes:
    return Attributes(SA, verb, True, "", group, resource, sub, namespace, name)


# -- request attributes (the apiserver's RequestInfoFactory) ----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        (
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments",
            {},
            ("list", "apps", "deployments", "", "prod", ""),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments",
            {"watch": "true"},
            ("watch", "apps", "deployments", "", "prod", ""),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments",
            {"watch": "1", "fieldSelector": "metadata.name=web"},
            ("watch", "apps", "deployments", "", "prod", "web"),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments/web",
            {},
            ("get", "apps", "deployments", "", "prod", "web"),
        ),
        ("HEAD", "/api/v1/namespaces/prod/pods/p1/log", {}, ("get", "", "pods", "log", "prod", "p1")),
        (
            "PUT",
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
            {},
            ("update", "apps", "deployments", "scale", "prod", "web"),
        ),
        ("PATCH", "/api/v1/namespaces/prod/services/web", {}, ("patch", "", "services", "", "prod", "web")),
        ("POST", "/apis/batch/v1/namespaces/prod/jobs", {}, ("create", "batch", "jobs", "", "prod", "")),
        ("DELETE", "/api/v1/namespaces/prod/pods", {}, ("deletecollection", "", "pods", "", "prod", "")),
        ("DELETE", "/api/v1/namespaces/prod/pods/p1", {}, ("delete", "", "pods", "", "prod", "p1")),
        ("GET", "/api/v1/nodes", {}, ("list", "", "nodes", "", "", "")),
        ("GET", "/apis/metrics.k8s.io/v1beta1/nodes", {}, ("list", "metrics.k8s.io", "nodes", "", "", "")),
        ("GET", "/api/v1/namespaces/prod", {}, ("get", "", "namespaces", "", "prod", "prod")),
        ("PUT", "/api/v1/namespaces/prod/status", {}, ("update", "", "namespaces", "status", "prod", "prod")),
        ("GET", "/api/v1/pods", {}, ("list", "", "pods", "", "", "")),
    ],
)
def test_request_attributes_like_the_apiserver(method, path, query, expected):
    a = request_attributes(method, path, query, SA)
    assert a.resource_request
    assert (a.verb, a.group, a.resource, a.subresource, a.namespace, a.name) == expected


def test_non_resource_paths_are_verbs_on_paths():
    a = request_attributes("GET", "/apis", {}, SA)
    assert not a.resource_request and (a.verb, a.path) == ("get", "/apis")
    assert request_attributes("GET", "/version", {}, SA).resource_request is False


# -- rules ------------------------------------------------------------------------------------------


def test_rule_needs_group_resource_and_verb_to_match():
    rule = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}
    assert rule_allows(rule, attrs("patch", "deployments"))
    assert not rule_allows(rule, attrs("update", "deployments"))
    assert not rule_allows(rule, attrs("patch", "replicasets"))
    assert not rule_allows(rule, attrs("patch", "deployments", group="extensions"))


def test_a_subresource_needs_its_own_grant():
    rule = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}
    assert not rule_allows(rule, attrs("update", "deployments", sub="scale"))
    scale = {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"]}
    assert rule_allows(scale, attrs("update", "deployments", sub="scale"))
    assert not rule_allows(scale, attrs("update", "deployments"))
    logs = {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}
    assert rule_allows(logs, attrs("get", "pods", group="", sub="log"))
    assert rule_allows(
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, attrs("get", "pods", sub="log")
    )


def test_resource_names_limit_named_requests_only():
    rule = {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "create"],
        "resourceNames": ["lock"],
    }
    lease = {"group": "coordination.k8s.io"}
    assert rule_allows(rule, attrs("get", "leases", name="lock", **lease))
    assert not rule_allows(rule, attrs("get", "leases", name="other", **lease))
    # a create names no object in its path: a resourceNames rule cannot allow it (as in Kubernetes)
    assert not rule_allows(rule, attrs("create", "leases", **lease))


def test_non_resource_urls_match_exactly_or_by_prefix_star():
    rule = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]}
    path = lambda p: Attributes(SA, "get", False, p)  # noqa: E731
    assert rule_allows(rule, path("/healthz")) and rule_allows(rule, path("/apis/apps/v1"))
    assert not rule_allows(rule, path("/healthz/etcd")) and not rule_allows(rule, path("/metrics"))
    # a resource rule never allows a path, a path rule never a resource
    assert not rule_allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, path("/healthz"))
    assert not rule_allows(rule, attrs("get", "healthz"))


def test_subjects_user_group_and_service_account_with_default_namespace():
    assert applies_to({"kind": "User", "name": DEPLOYER}, SA, "prod")
    assert applies_to({"kind": "Group", "name": "system:serviceaccounts:airlock"}, SA, "prod")
    assert applies_to(sa_subject(), SA, "prod")
    assert not applies_to(sa_subject("other"), SA, "prod")
    # a RoleBinding's ServiceAccount subject without a namespace means the binding's namespace
    assert applies_to(sa_subject(None), SA, "airlock") and not applies_to(sa_subject(None), SA, "prod")


def _store(*objects: dict[str, Any]) -> Store:
    store = Store()
    for obj in objects:
        plural = {"Role": "roles", "ClusterRole": "clusterroles", "RoleBinding": "rolebindings"}.get(
            obj["kind"], "clusterrolebindings"
        )
        store.put(f"rbac.authorization.k8s.io/{plural}", obj)
    return store


def test_role_binding_grants_in_its_namespace_only_and_cluster_binding_everywhere():
    deploy = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}
    nodes = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}
    store = _store(
        role("deployer", "prod", deploy),
        binding("deployer", "Role", "deployer", "prod", sa_subject()),
        cluster_role("editor", {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}),
        binding(
            "editor", "ClusterRole", "editor", "staging", sa_subject()
        ),  # a ClusterRole bound in one namespace
        cluster_role("nodes", nodes),
        binding("nodes", "ClusterRole", "nodes", None, sa_subject()),
    )
    assert authorize(store, attrs("patch", "deployments", "prod")).allowed
    assert not authorize(store, attrs("patch", "deployments", "staging")).allowed
    assert authorize(store, attrs("create", "jobs", "staging", group="batch")).allowed
    assert not authorize(store, attrs("create", "jobs", "prod", group="batch")).allowed
    assert authorize(store, attrs("list", "nodes", "", group="")).allowed
    reason = authorize(store, attrs("patch", "deployments", "prod")).reason
    assert reason == f'RBAC: allowed by RoleBinding "deployer/prod" of Role "deployer" to User "{DEPLOYER}"'
    # a binding to a Role that does not exist grants nothing; nor does one for someone else
    other = user_named("system:serviceaccount:airlock:other")
    assert not authorize(
        store, Attributes(other, "patch", True, "", "apps", "deployments", "", "prod", "x")
    ).allowed
    # the superuser group needs no binding
    admin = user_named("admin", ["system:masters"])
    assert authorize(Store(), Attributes(admin, "delete", True, "", "", "secrets", "", "prod", "x")).allowed


def test_every_authenticated_user_may_discover_and_review_itself():
    store = Store()
    assert authorize(store, Attributes(SA, "get", False, "/apis/apps/v1")).allowed
    assert authorize(
        store, attrs("create", "selfsubjectaccessreviews", "", group="authorization.k8s.io")
    ).allowed
    assert not authorize(store, Attributes(SA, "get", False, "/metrics")).allowed
    assert not authorize(store, attrs("list", "pods", group="")).allowed


# -- the 403 message, word for word ----------------------------------------------------------------


def test_forbidden_messages_are_the_apiservers():
    e = forbidden(attrs("patch", "deployments", "prod", name="x"))
    assert e.code == 403 and e.reason == "Forbidden"
    assert e.message == (
        'deployments.apps "x" is forbidden: User "system:serviceaccount:airlock:deployer" '
        'cannot patch resource "deployments" in API group "apps" in the namespace "prod"'
    )
    assert e.status()["details"] == {"group": "apps", "kind": "deployments", "name": "x"}
    assert forbidden(attrs("list", "nodes", "", group="")).message == (
        'nodes is forbidden: User "system:serviceaccount:airlock:deployer" '
        'cannot list resource "nodes" in API group "" at the cluster scope'
    )
    assert forbidden(attrs("get", "pods", "prod", group="", sub="log", name="p")).message == (
        'pods "p" is forbidden: User "system:serviceaccount:airlock:deployer" '
        'cannot get resource "pods/log" in API group "" in the namespace "prod"'
    )
    assert forbidden(Attributes(SA, "get", False, "/metrics")).message == (
        'forbidden: User "system:serviceaccount:airlock:deployer" cannot get path "/metrics"'
    )


# -- tokens --------------------------------------------------------------------------------------------


def test_token_file_is_the_apiservers_csv():
    tokens = parse_token_file('# comment\nt1,alice,u1,"dev,ops"\nt2,system:serviceaccount:ci:bot,u2\n')
    assert tokens["t1"] == User("alice", ("system:authenticated", "dev", "ops"), "u1")
    bot = tokens["t2"]
    assert bot.name == "system:serviceaccount:ci:bot"
    assert set(bot.groups) == {"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}
    with pytest.raises(ValueError, match=r"line 1: expected token,user,uid"):
        parse_token_file("only-a-token\n")
    with pytest.raises(ValueError, match="listed twice"):
        parse_token_file("t,a,1\nt,b,2\n")
    with pytest.raises(ValueError, match="no tokens"):
        parse_token_file("# nothing\n")


def test_authenticator_wants_a_known_bearer_token():
    auth = Authenticator({"good": DEPLOYER})
    assert auth.authenticate("Bearer good") == SA
    for header in (None, "", "Bearer", "Bearer bad", "Basic Z29vZA==", "good"):
        with pytest.raises(Exception) as err:
            auth.authenticate(header)
        assert getattr(err.value, "code", None) == 401, header
    minted = auth.mint("ci", "bot")
    assert auth.authenticate(f"Bearer {minted}").name == "system:serviceaccount:ci:bot"


def test_access_control_logs_every_resource_decision():
    store = _store(
        role("r", "prod", {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}),
        binding("r", "Role", "r", "prod", sa_subject()),
    )
    access = AccessControl(Authenticator({"t": DEPLOYER}), store, Clock())
    assert access.admit("GET", "/api/v1/namespaces/prod/pods", {}, "Bearer t") == SA
    with pytest.raises(Exception, match='cannot watch resource "pods"'):
        access.admit("GET", "/api/v1/namespaces/prod/pods", {"watch": "true"}, "Bearer t")
    access.admit("GET", "/apis", {}, "Bearer t")  # discovery: allowed, not a resource request
    log = [(e["verb"], e["resource"], e["namespace"], e["allowed"]) for e in access.log.entries()]
    assert log == [("list", "pods", "prod", True), ("watch", "pods", "prod", False)]
    # without RBAC, authentication alone
    open_access = AccessControl(Authenticator({"t": DEPLOYER}), Store(), Clock(), rbac=False)
    open_access.admit("DELETE", "/api/v1/namespaces/prod/pods/x", {}, "Bearer t")


# -- over real HTTP ------------------------------------------------------------------------------------

SCENARIO = {
    "namespaces": ["prod", "airlock"],
    "objects": [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "deployer", "namespace": "airlock"},
        },
        role(
            "deployer",
            "prod",
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create"]},
        ),
        binding("deployer", "Role", "deployer", "prod", sa_subject()),
    ],
}


def test_without_tokens_kubesim_serves_everyone():
    with run_kubesim() as sim:
        assert requests.get(f"{sim.url}/api/v1/namespaces/default/pods", timeout=5).status_code == 200
        assert sim.access_log() == []


def test_http_401_403_and_allowed_with_the_official_client():
    with run_kubesim(SCENARIO, tokens={"dep": DEPLOYER}) as sim:
        url = f"{sim.url}/api/v1/namespaces/prod/configmaps"
        for headers in ({}, {"Authorization": "Bearer nope"}):
            resp = requests.get(url, headers=headers, timeout=5)
            assert resp.status_code == 401, resp.text
            assert resp.json() == {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "Unauthorized",
                "reason": "Unauthorized",
                "code": 401,
            }
        # simulated app traffic, Prometheus' scrape and the simulator's controls stay open
        assert requests.get(f"{sim.url}/metrics", timeout=5).status_code == 200
        assert requests.get(f"{sim.url}/_sim/audit", timeout=5).status_code == 200

        apps = client.AppsV1Api(sim.api_client("dep"))
        apps.create_namespaced_deployment("prod", make_deployment("web", "prod"))
        assert apps.read_namespaced_deployment("web", "prod").metadata.name == "web"
        with pytest.raises(ApiException) as err:
            apps.patch_namespaced_deployment("web", "prod", {"spec": {"replicas": 1}})
        assert err.value.status == 403
        assert (
            '"message":"deployments.apps \\"web\\" is forbidden: User \\"system:serviceaccount:airlock:deployer\\" cannot patch resource \\"deployments\\" in API group \\"apps\\" in the namespace \\"prod\\""'
            in err.value.body
        )
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(sim.api_client("dep")).create_namespaced_config_map(
                "prod", make_configmap("c", {}, "prod")
            )
        assert err.value.status == 403
        # the superuser token "kubesim" may do anything
        client.CoreV1Api(sim.api_client()).create_namespaced_config_map(
            "prod", make_configmap("c", {}, "prod")
        )
        # a refused write changed nothing and is in the audit log with its 403
        assert sim.world.store.get("apps/deployments", "prod", "web")["spec"]["replicas"] == 3
        assert [(a["method"], a["status"]) for a in sim.audit() if "/deployments" in a["path"]] == [
            ("POST", 201),
            ("PATCH", 403),
        ]
        deployer = [
            (e["verb"], e["resource"], e["allowed"]) for e in sim.access_log() if e["user"] == DEPLOYER
        ]
        assert deployer == [
            ("create", "deployments", True),
            ("get", "deployments", True),
            ("patch", "deployments", False),
            ("create", "configmaps", False),
        ]


def test_self_subject_access_review_and_token_request():
    with run_kubesim(SCENARIO, tokens={"dep": DEPLOYER}) as sim:
        review = f"{sim.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

        def can(verb: str, namespace: str) -> dict[str, Any]:
            spec = {
                "resourceAttributes": {
                    "verb": verb,
                    "group": "apps",
                    "resource": "deployments",
                    "namespace": namespace,
                }
            }
            resp = requests.post(
                review, json={"spec": spec}, headers={"Authorization": "Bearer dep"}, timeout=5
            )
            assert resp.status_code == 201, resp.text
            return dict(resp.json()["status"])

        assert can("list", "prod")["allowed"] is True
        assert can("delete", "prod") == {"allowed": False}
        assert can("list", "staging") == {"allowed": False}

        token_url = f"{sim.url}/api/v1/namespaces/airlock/serviceaccounts/deployer/token"
        assert (
            requests.post(token_url, json={}, headers={"Authorization": "Bearer dep"}, timeout=5).status_code
            == 403
        )
        resp = requests.post(
            token_url,
            json={"spec": {"expirationSeconds": 600}},
            headers={"Authorization": "Bearer kubesim"},
            timeout=5,
        )
        assert resp.status_code == 201, resp.text
        minted = resp.json()["status"]["token"]
        assert resp.json()["spec"]["expirationSeconds"] == 600
        listed = requests.get(
            f"{sim.url}/apis/apps/v1/namespaces/prod/deployments",
            headers={"Authorization": f"Bearer {minted}"},
            timeout=5,
        )
        assert listed.status_code == 200
        missing = requests.post(
            f"{sim.url}/api/v1/namespaces/airlock/serviceaccounts/ghost/token",
            json={},
            headers={"Authorization": "Bearer kubesim"},
            timeout=5,
        )
        assert missing.status_code == 404 and missing.json()["message"] == 'serviceaccounts "ghost" not found'


def test_cli_token_auth_file(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\ndep,system:serviceaccount:airlock:deployer,2\n')
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--port", "0", "--token-auth-file", str(tokens),
         "--kubeconfig-out", str(kubeconfig), "--kubeconfig-token", "admin-token"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("kubesim ready on "), line + (proc.stderr.read() if proc.stderr else "")
        url = line.split()[-1]
        pods = f"{url}/api/v1/namespaces/default/pods"
        assert requests.get(pods, timeout=5).status_code == 401
        assert requests.get(pods, headers={"Authorization": "Bearer dep"}, timeout=5).status_code == 403
        assert (
            requests.get(pods, headers={"Authorization": "Bearer admin-token"}, timeout=5).status_code == 200
        )
        assert "token: admin-token" in kubeconfig.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def _pb(number: int, value: bytes) -> bytes:
    """One length-delimited protobuf field (sizes below 128)."""
    return bytes([number << 3 | 2, len(value)]) + value


def test_access_review_protobuf_as_kubectl_sends_it():
    from kubesim.rbac import access_review_from_protobuf

    attributes = (
        _pb(1, b"prod") + _pb(2, b"patch") + _pb(3, b"apps") + _pb(5, b"deployments") + _pb(6, b"scale")
    )
    review = _pb(1, b"") + _pb(2, _pb(1, attributes))
    envelope = b"k8s\x00" + _pb(1, _pb(1, b"authorization.k8s.io/v1") + _pb(2, b"SelfSubjectAccessReview"))
    envelope += _pb(2, review)
    assert access_review_from_protobuf(envelope) == {
        "spec": {
            "resourceAttributes": {
                "namespace": "prod",
                "verb": "patch",
                "group": "apps",
                "resource": "deployments",
                "subresource": "scale",
            }
        }
    }
    non_resource = b"k8s\x00" + _pb(2, _pb(2, _pb(2, _pb(1, b"/healthz") + _pb(2, b"get"))))
    assert access_review_from_protobuf(non_resource) == {
        "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    }
    with pytest.raises(Exception, match="without the k8s envelope"):
        access_review_from_protobuf(b"\x0a\x00")


def test_with_tokens_kubesim_also_listens_with_tls_for_kubectl():
    with run_kubesim(SCENARIO, tokens={"dep": DEPLOYER}) as sim:
        assert sim.tls_url and sim.tls_url.startswith("https://127.0.0.1:")
        url = f"{sim.tls_url}/apis/apps/v1/namespaces/prod/deployments"
        assert requests.get(url, verify=False, timeout=5).status_code == 401
        assert (
            requests.get(url, headers={"Authorization": "Bearer dep"}, verify=False, timeout=5).status_code
            == 200
        )
        kubeconfig = Path(sim.kubeconfig).read_text()
        assert sim.tls_url in kubeconfig and "insecure-skip-tls-verify: true" in kubeconfig
    with run_kubesim() as sim:
        assert sim.tls_url is None and "https" not in Path(sim.kubeconfig).read_text()
