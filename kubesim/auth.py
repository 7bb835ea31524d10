"""Bearer-token authentication, as the apiserver's static token file and TokenRequest do it.

Opt-in: a kubesim started without tokens authenticates nobody and allows everything (every existing
test and the demo). Started with tokens (`python -m kubesim --token-auth-file FILE`, or
`run_kubesim(..., tokens={...})`), every Kubernetes API request must carry
`Authorization: Bearer <token>` naming a known token, or it is answered 401 Unauthorized like the
apiserver answers it.

* The token file is the apiserver's `--token-auth-file` CSV: `token,user,uid[,"group1,group2"]`
  (kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file).
* A ServiceAccount user is `system:serviceaccount:<namespace>:<name>` in the groups
  `system:serviceaccounts` and `system:serviceaccounts:<namespace>`; a token map may name one by its
  user name alone.
* `kubectl create token SA -n NS` (a TokenRequest, POST .../serviceaccounts/SA/token) mints a token
  for that ServiceAccount; kubesim remembers it until it stops.
* Every authenticated user is also in `system:authenticated`; `system:masters` is the superuser
  group (the apiserver lets it do anything, without asking RBAC).
* kubectl (client-go) sends a kubeconfig's token only over TLS, so kubesim can also listen with a
  self-signed certificate (`self_signed_tls`); its kubeconfig then says `insecure-skip-tls-verify`.
"""

from __future__ import annotations

import csv
import datetime
import io
import ipaddress
import secrets
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubesim.errors import ApiError

AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    @property
    def superuser(self) -> bool:
        return MASTERS in self.groups


def service_account_user(namespace: str, name: str) -> User:
    return User(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
    )


def user_named(name: str, groups: tuple[str, ...] | list[str] = ()) -> User:
    """A User from its name; a ServiceAccount name gets the ServiceAccount groups."""
    if name.startswith(SA_PREFIX):
        namespace, _, sa = name[len(SA_PREFIX) :].partition(":")
        if not namespace or not sa:
            raise ValueError(f"service account user {name!r}: expected system:serviceaccount:<ns>:<name>")
        base = service_account_user(namespace, sa)
        return User(base.name, _with(base.groups, groups))
    return User(name, _with((AUTHENTICATED,), groups))


def _with(base: tuple[str, ...], extra: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    out = list(base)
    for g in extra:
        if g and g not in out:
            out.append(g)
    return tuple(out)


def parse_token_file(text: str, source: str = "token file") -> dict[str, User]:
    """The apiserver's static token CSV: `token,user,uid[,"group1,group2"]` per line."""
    tokens: dict[str, User] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3 or not row[0].strip() or not row[1].strip():
            raise ValueError(
                f'{source}, line {lineno}: expected token,user,uid[,"group1,group2"], got {",".join(row)!r}'
            )
        token, name, uid = (c.strip() for c in row[:3])
        groups = [g.strip() for g in row[3].split(",")] if len(row) > 3 else []
        if token in tokens:
            raise ValueError(f"{source}, line {lineno}: token for {name!r} is listed twice")
        user = user_named(name, groups)
        tokens[token] = User(user.name, user.groups, uid)
    if not tokens:
        raise ValueError(f'{source}: no tokens (expected lines token,user,uid[,"groups"])')
    return tokens


def load_token_file(path: str | Path) -> dict[str, User]:
    return parse_token_file(Path(path).read_text(encoding="utf-8"), str(path))


class Authenticator:
    """Bearer token -> User, from a fixed map plus the tokens minted by TokenRequest."""

    def __init__(self, tokens: Mapping[str, User | str]) -> None:
        self._tokens: dict[str, User] = {
            t: u if isinstance(u, User) else user_named(u) for t, u in tokens.items()
        }
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> User:
        """The user a request's Authorization header names; 401 Unauthorized when none or unknown."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        with self._lock:
            user = self._tokens.get(token.strip())
        if user is None:
            raise unauthorized()
        return user

    def mint(self, namespace: str, service_account: str) -> str:
        """A new token for a ServiceAccount (TokenRequest)."""
        token = f"kubesim-sa-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = service_account_user(namespace, service_account)
        return token


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def self_signed_tls(host: str = "127.0.0.1") -> ssl.SSLContext:
    """A server-side TLS context with a fresh self-signed certificate for `host` (and localhost)."""
    from cryptography import x509  # lazy: only a TLS listener needs it (a dependency of Airflow's)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubesim")])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="kubesim-tls-") as tmp:
        cert_file, key_file = f"{tmp}/tls.crt", f"{tmp}/tls.key"
        with open(cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_file, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        ctx.load_cert_chain(cert_file, key_file)
    return ctx
