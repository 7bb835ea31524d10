"""The new image and the rollback image exist in the registry (OCI distribution API).

`HEAD /v2/<name>/manifests/<tag|digest>` with the manifest media types in Accept. A 401 carrying a
`WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge is answered by fetching a token from
the realm (basic auth when credentials are configured) and retrying with `Authorization: Bearer`; a
`Basic` challenge is answered with the credentials directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession
from airlock.checks.result import FAIL, PASS, WARN, CheckResult
from airlock.image_ref import parse_image_ref

NAME = "registry"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class ImageRef:
    host: str  # registry host[:port]
    name: str  # repository path inside the registry
    reference: str  # tag or digest

    @property
    def full(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.host}/{self.name}{sep}{self.reference}"


def parse_image(ref: str) -> ImageRef:
    """'reg.example.com:5000/team/app:1.2.3' -> host, name, tag (airlock.image_ref's grammar).

    The registry host must be written (as the first path component); Docker Hub's `docker.io` maps to its
    API host registry-1.docker.io and official images to `library/<name>`.
    """
    parsed = parse_image_ref(ref)
    host = parsed.registry_host
    if host is None:
        raise ValueError(f"image {ref!r} has no registry host (expected host/name[:tag])")
    reference = parsed.reference
    if not reference:
        raise ValueError(f"image {ref!r} has neither a tag nor a digest")
    return ImageRef(host, parsed.remote_name, reference)


def registry_base_url(host: str, scheme: str | None = None) -> str:
    """https by default; http for localhost / 127.0.0.1 (a local test or demo registry)."""
    if scheme is None:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        scheme = "http" if bare in ("localhost", "127.0.0.1", "[::1]") else "https"
    return f"{scheme}://{host}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="https://a/token",service="reg",scope="repository:x:pull"' -> ('bearer', {...})."""
    scheme, _, params = header.strip().partition(" ")
    values = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(params)
    }
    return scheme.lower(), values


class RegistryClient:
    """Manifest lookups against one registry, keeping tokens per scope for the duration of the check."""

    def __init__(
        self, session: HttpSession, base_url: str, username: str | None = None, password: str | None = None
    ) -> None:
        self.session, self.base_url = session, base_url.rstrip("/")
        self.auth = (username, password or "") if username else None
        self._tokens: dict[str, str] = {}

    def _token(self, params: dict[str, str]) -> str:
        key = f"{params.get('service')}|{params.get('scope')}"
        if key not in self._tokens:
            realm = params.get("realm")
            if not realm:
                raise RuntimeError("registry sent a Bearer challenge without a realm")
            query = {k: params[k] for k in ("service", "scope") if params.get(k)}
            resp = self.session.request("GET", realm, params=query, auth=self.auth, timeout=DEFAULT_TIMEOUT)
            if resp.status_code != 200:
                raise PermissionError(
                    f"token endpoint {realm} answered HTTP {resp.status_code}: {resp.text[:200]}"
                )
            body = resp.json()
            token = body.get("token") or body.get("access_token")
            if not token:
                raise RuntimeError(f"token endpoint {realm} returned no token")
            self._tokens[key] = str(token)
        return self._tokens[key]

    def head_manifest(self, name: str, reference: str) -> dict[str, Any]:
        """{'exists': bool, 'status': int, 'digest': str|None, 'url': str} after answering any auth challenge."""
        url = f"{self.base_url}/v2/{name}/manifests/{reference}"
        headers = {"Accept": MANIFEST_TYPES}
        resp = self.session.request("HEAD", url, headers=headers, timeout=DEFAULT_TIMEOUT)
        if resp.status_code == 401:
            scheme, params = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            if scheme == "bearer":
                headers["Authorization"] = f"Bearer {self._token(params)}"
                resp = self.session.request("HEAD", url, headers=headers, timeout=DEFAULT_TIMEOUT)
            elif scheme == "basic" and self.auth:
                resp = self.session.request(
                    "HEAD", url, headers=headers, auth=self.auth, timeout=DEFAULT_TIMEOUT
                )
        return {
            "url": url,
            "status": resp.status_code,
            "exists": resp.status_code == 200,
            "digest": resp.headers.get("Docker-Content-Digest"),
        }


def judge_images(found: dict[str, dict[str, Any]], notes: list[str] | None = None) -> CheckResult:
    """found: role ('new'/'rollback') -> head_manifest() result plus 'image'."""
    evidence: dict[str, Any] = {"images": found, "notes": list(notes or [])}
    missing = []
    for role, info in found.items():
        if not info["exists"]:
            why = {404: "not found", 401: "unauthorized", 403: "forbidden"}.get(
                info["status"], f"HTTP {info['status']}"
            )
            missing.append(f"{role} image {info['image']} {why} (HEAD {info['url']} -> {info['status']})")
    if missing:
        return CheckResult(NAME, FAIL, "; ".join(missing), evidence)
    present = ", ".join(
        f"{role} {info['image']} ({(info.get('digest') or 'no digest')[:19]})" for role, info in found.items()
    )
    if notes:
        return CheckResult(NAME, WARN, f"present: {present}; " + "; ".join(notes), evidence)
    return CheckResult(NAME, PASS, f"present: {present}", evidence)


def check_images(
    session: HttpSession,
    images: dict[str, str | None],
    username: str | None = None,
    password: str | None = None,
    base_url_override: str | None = None,
    credentials_host: str | None = None,
) -> CheckResult:
    """images: role -> full image reference (None: not applicable, e.g. no production Deployment yet).

    base_url_override (from a registry connection) replaces the scheme/host for images on
    credentials_host; credentials are sent only to that host.
    """
    found: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    clients: dict[str, RegistryClient] = {}
    for role, image in images.items():
        if image is None:
            notes.append(f"no {role} image to check (nothing deployed yet)")
            continue
        ref = parse_image(image)
        ours = credentials_host is None or ref.host == credentials_host
        base = base_url_override if (base_url_override and ours) else registry_base_url(ref.host)
        if base not in clients:
            clients[base] = RegistryClient(
                session, base, username if ours else None, password if ours else None
            )
        found[role] = {"image": image, **clients[base].head_manifest(ref.name, ref.reference)}
    return judge_images(found, notes)
