"""RBAC authorization: Role / ClusterRole / RoleBinding / ClusterRoleBinding, as the apiserver applies them.

Opt-in, with authentication (auth.py): `AccessControl` is built only when kubesim is given tokens.
Then every Kubernetes API request is

1. authenticated (auth.py; 401 Unauthorized without a known bearer token),
2. described like the apiserver's RequestInfoFactory does (`request_attributes`: verb, API group,
   resource, subresource, namespace, name - GET on a collection is `list`, with `watch=true` it is
   `watch`, DELETE on a collection is `deletecollection`, a list by `metadata.name=` field selector
   carries that name),
3. authorized by the RBAC objects in kubesim's own store (`authorize`, the rules of
   plugin/pkg/auth/authorizer/rbac: apiGroups / resources incl. `resource/subresource` and
   `*/subresource` / verbs / optional resourceNames / nonResourceURLs; ClusterRoleBindings grant
   everywhere, RoleBindings in their namespace, to a User, Group or ServiceAccount subject), with the
   apiserver's superuser group `system:masters` and the bootstrap policy every authenticated user
   has (discovery, /version, /healthz, SelfSubjectAccessReview),
4. recorded in the access log (every decision: user, verb, resource, namespace, name, allowed), so a
   test can compare what a client used with what its Role grants,
5. refused with a real 403 Forbidden Status whose message names user, verb, resource, API group and
   namespace, word for word as the apiserver words it (responsewriters.forbiddenMessage).

Not modelled: privilege-escalation checks on writing RBAC objects, aggregated ClusterRoles,
impersonation, the Node authorizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.audit import EntryLog
from kubesim.auth import AUTHENTICATED, Authenticator, User
from kubesim.clock import Clock, rfc3339
from kubesim.errors import ApiError, not_found
from kubesim.store import Store

RBAC = "rbac.authorization.k8s.io"
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}
_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}

# The bootstrap policy every authenticated user holds (system:discovery, system:public-info-viewer and
# system:basic-user in plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
_BOOTSTRAP_RULES: tuple[dict[str, Any], ...] = (
    {
        "verbs": ["get"],
        "nonResourceURLs": [
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/openapi",
            "/openapi/*",
            "/version",
            "/version/",
            "/healthz",
            "/livez",
            "/readyz",
        ],
    },
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
)


@dataclass(frozen=True)
class Attributes:
    """What is being asked, as the authorizer sees it (k8s.io/apiserver/pkg/authorization/authorizer)."""

    user: User
    verb: str
    resource_request: bool
    path: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(method: str, path: str, query: dict[str, str], user: User) -> Attributes:
    """The request as RBAC sees it, parsed like the apiserver's RequestInfoFactory."""
    parts = [p for p in path.split("/") if p]
    verb = _VERBS.get(method.upper(), method.lower())
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return Attributes(user, verb, False, path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    watch = (query.get("watch") or "").lower() in ("1", "t", "true")
    if verb == "get" and watch:
        verb = "watch"
    if not name and verb == "get":
        verb = "list"
    if not name and verb in ("list", "watch"):
        name = _exact_name(query.get("fieldSelector") or "")
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, path, group, resource, sub, namespace, name)


def _exact_name(field_selector: str) -> str:
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and not key.strip().endswith("!"):
            return value.strip()
    return ""


# -- rules --------------------------------------------------------------------------------------------


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    """One PolicyRule against one request (rbac.RuleAllows)."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return any(
            u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1]))
            for u in rule.get("nonResourceURLs") or []
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _resource_matches(resources: list[str], attrs: Attributes) -> bool:
    for r in resources:
        if r == "*" or r == attrs.combined_resource:
            return True
        if attrs.subresource and r == f"*/{attrs.subresource}":
            return True
    return False


def applies_to(subject: dict[str, Any], user: User, binding_namespace: str) -> bool:
    """Whether a binding's subject names this user (rbac.appliesToUser)."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # which binding allowed it ("" when denied)


def authorize(store: Store, attrs: Attributes) -> Decision:
    """RBAC over the stored bindings: ClusterRoleBindings anywhere, RoleBindings in the request's namespace."""
    if attrs.user.superuser:
        return Decision(True, 'allowed: the user is in the group "system:masters"')
    if AUTHENTICATED in attrs.user.groups and any(rule_allows(r, attrs) for r in _BOOTSTRAP_RULES):
        return Decision(True, "allowed by the bootstrap policy for system:authenticated")
    with store.lock:
        for binding in store.list(f"{RBAC}/clusterrolebindings"):
            if _binding_allows(store, binding, "", attrs):
                return Decision(True, _allowed_by(binding, attrs.user))
        if attrs.namespace:
            for binding in store.list(f"{RBAC}/rolebindings", attrs.namespace):
                if _binding_allows(store, binding, attrs.namespace, attrs):
                    return Decision(True, _allowed_by(binding, attrs.user))
    return Decision(False, "")


def _binding_allows(store: Store, binding: dict[str, Any], namespace: str, attrs: Attributes) -> bool:
    if not any(applies_to(s, attrs.user, namespace) for s in binding.get("subjects") or []):
        return False
    ref = binding.get("roleRef") or {}
    if ref.get("kind") == "ClusterRole":
        role = store.get(f"{RBAC}/clusterroles", "", str(ref.get("name")))
    elif ref.get("kind") == "Role" and namespace:
        role = store.get(f"{RBAC}/roles", namespace, str(ref.get("name")))
    else:
        role = None
    return role is not None and any(rule_allows(r, attrs) for r in role.get("rules") or [])


def _allowed_by(binding: dict[str, Any], user: User) -> str:
    md, ref = binding.get("metadata") or {}, binding.get("roleRef") or {}
    kind = binding.get("kind") or ("RoleBinding" if md.get("namespace") else "ClusterRoleBinding")
    where = f"{md.get('name')}/{md['namespace']}" if md.get("namespace") else str(md.get("name"))
    return f'RBAC: allowed by {kind} "{where}" of {ref.get("kind")} "{ref.get("name")}" to User "{user.name}"'


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage: who cannot do what, where."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    head = (
        f'User "{user}" cannot {attrs.verb} resource "{attrs.combined_resource}" in API group "{attrs.group}"'
    )
    if attrs.namespace:
        return f'{head} in the namespace "{attrs.namespace}"'
    return f"{head} at the cluster scope"


def forbidden(attrs: Attributes) -> ApiError:
    """The apiserver's 403 (errors.NewForbidden over the group-qualified resource and the name)."""
    why = forbidden_message(attrs)
    if not attrs.resource_request:
        return ApiError(403, f"forbidden: {why}", "Forbidden", {})
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details = {"group": attrs.group, "kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    return ApiError(403, f"{subject} is forbidden: {why}", "Forbidden", details)


# -- the access log -----------------------------------------------------------------------------------


class AccessLog(EntryLog):
    """Every authorization decision on a resource request, in order."""

    def record(self, attrs: Attributes, decision: Decision, method: str, sim_time: float) -> None:
        entry = {
            "user": attrs.user.name,
            "verb": attrs.verb,
            "group": attrs.group,
            "resource": attrs.combined_resource,
            "namespace": attrs.namespace,
            "name": attrs.name,
            "allowed": decision.allowed,
            "reason": decision.reason,
            "method": method,
            "path": attrs.path,
            "time": rfc3339(sim_time),
        }
        self.append(entry)


class AccessControl:
    """Authentication plus RBAC for one kubesim: `admit` every API request before it is handled."""

    def __init__(
        self, authenticator: Authenticator, store: Store, clock: Clock, *, rbac: bool = True
    ) -> None:
        self.authenticator = authenticator
        self.store = store
        self.clock = clock
        self.rbac = rbac  # False: authenticate only, allow every authenticated request
        self.log = AccessLog()

    def admit(self, method: str, path: str, query: dict[str, str], authorization: str | None) -> User:
        """The request's user when it may proceed; raises 401 (who are you?) or 403 (not allowed)."""
        user = self.authenticator.authenticate(authorization)
        attrs = request_attributes(method, path, query, user)
        decision = self.decide(attrs)
        if attrs.resource_request:
            self.log.record(attrs, decision, method, self.clock.now())
        if not decision.allowed:
            raise forbidden(attrs)
        return user

    def decide(self, attrs: Attributes) -> Decision:
        if not self.rbac:
            return Decision(True, "allowed: kubesim authorizes every authenticated request (no RBAC)")
        return authorize(self.store, attrs)


# -- the two API objects answered here ----------------------------------------------------------------


def access_review(access: AccessControl | None, user: User | None, body: Any) -> dict[str, Any]:
    """A SelfSubjectAccessReview answered for the requesting user (`kubectl auth can-i`)."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise ApiError(400, "SelfSubjectAccessReview: spec is required", "BadRequest")
    spec = body["spec"]
    res, non_res = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    out = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
    }
    if access is None or user is None:
        out["status"] = {"allowed": True, "reason": "kubesim runs without authorization"}
        return out
    if isinstance(res, dict):
        attrs = Attributes(
            user,
            str(res.get("verb") or ""),
            True,
            "",
            str(res.get("group") or ""),
            str(res.get("resource") or ""),
            str(res.get("subresource") or ""),
            str(res.get("namespace") or ""),
            str(res.get("name") or ""),
        )
    elif isinstance(non_res, dict):
        attrs = Attributes(user, str(non_res.get("verb") or ""), False, str(non_res.get("path") or ""))
    else:
        raise ApiError(
            400,
            "SelfSubjectAccessReview: spec needs resourceAttributes or nonResourceAttributes",
            "BadRequest",
        )
    decision = access.decide(attrs)
    out["status"] = {"allowed": decision.allowed}
    if decision.reason:
        out["status"]["reason"] = decision.reason
    return out


# -- the protobuf kubectl sends -------------------------------------------------------------------------

_PROTOBUF_MAGIC = b"k8s\x00"
_RESOURCE_FIELDS = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_FIELDS = {1: "path", 2: "verb"}


def _fields(data: bytes) -> list[tuple[int, bytes | int]]:
    """One protobuf message's (field number, value): varints as int, length-delimited as bytes."""
    out: list[tuple[int, bytes | int]] = []
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            size = varint()
            out.append((number, data[i : i + size]))
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    return {names[n]: v.decode() for n, v in _fields(data) if n in names and isinstance(v, bytes)}


def access_review_from_protobuf(body: bytes) -> dict[str, Any]:
    """A SelfSubjectAccessReview sent as Kubernetes protobuf (as kubectl does) -> its JSON form.

    The envelope is runtime.Unknown (magic "k8s\\0"; field 2 holds the object); the object's field 2
    is the spec, whose field 1 is ResourceAttributes and 2 NonResourceAttributes
    (k8s.io/api/authorization/v1/generated.proto).
    """
    if not body.startswith(_PROTOBUF_MAGIC):
        raise ApiError(400, "protobuf body without the k8s envelope", "BadRequest")
    try:
        raw = next(
            (v for n, v in _fields(body[len(_PROTOBUF_MAGIC) :]) if n == 2 and isinstance(v, bytes)), b""
        )
        spec_bytes = next((v for n, v in _fields(raw) if n == 2 and isinstance(v, bytes)), b"")
        spec: dict[str, Any] = {}
        for number, value in _fields(spec_bytes):
            if number == 1 and isinstance(value, bytes):
                spec["resourceAttributes"] = _strings(value, _RESOURCE_FIELDS)
            elif number == 2 and isinstance(value, bytes):
                spec["nonResourceAttributes"] = _strings(value, _NON_RESOURCE_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, f"SelfSubjectAccessReview: undecodable protobuf body: {exc}", "BadRequest"
        ) from None
    return {"spec": spec}


def token_request(
    access: AccessControl | None, store: Store, clock: Clock, namespace: str, name: str, body: Any
) -> dict[str, Any]:
    """A TokenRequest for a ServiceAccount (`kubectl create token NAME -n NAMESPACE`)."""
    if store.get("/serviceaccounts", namespace, name) is None:
        raise not_found("", "serviceaccounts", name)
    spec = dict((body or {}).get("spec") or {}) if isinstance(body, dict) else {}
    seconds = int(spec.get("expirationSeconds") or 3600)
    spec["expirationSeconds"] = seconds
    spec.setdefault("audiences", ["https://kubernetes.default.svc"])
    token = access.authenticator.mint(namespace, name) if access is not None else "kubesim"
    now = clock.now()
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(now)},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": rfc3339(now + seconds)},
    }
