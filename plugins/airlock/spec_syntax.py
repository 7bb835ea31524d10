"""Field syntax of the service spec: Kubernetes names and labels, paths and URLs, links, regular expressions.

Each rule is a plain function that returns the value or raises ValueError with what is allowed; the
spec's models (airlock.spec) attach them to fields, so an error names the field and the value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from airlock.regex_safety import check_regex

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)  # RFC 7230 token
_CONNECTION_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLACEHOLDERS = {"{namespace}": "namespace", "{service}": "service"}


# -- Kubernetes names, as Kubernetes defines them (apimachinery validation) --------------------------


def dns_label(value: str, max_length: int = 63) -> str:
    """RFC 1123 label: namespaces, container names."""
    if len(value) > max_length or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"not a DNS-1123 label: at most {max_length} characters of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def dns_1035_label(value: str) -> str:
    """RFC 1035 label: Service names (must start with a letter)."""
    if len(value) > 63 or not _DNS_1035_LABEL.fullmatch(value):
        raise ValueError(
            "not a DNS-1035 label (a Service name): at most 63 characters of a-z, 0-9 and '-', "
            "starting with a letter and ending with a letter or digit"
        )
    return value


def dns_subdomain(value: str, max_length: int = 253) -> str:
    """RFC 1123 subdomain: Deployment names, label key prefixes."""
    if len(value) > max_length or not all(_DNS_LABEL.fullmatch(part) for part in value.split(".")):
        raise ValueError(
            f"not a DNS-1123 subdomain: at most {max_length} characters, '.'-separated labels of a-z, 0-9 "
            "and '-', each starting and ending with a letter or digit"
        )
    return value


_LABEL_NAME_RULE = (
    "at most 63 characters of A-Z a-z 0-9 '-' '_' '.', starting and ending with a letter or digit"
)


def label_key(key: str) -> str:
    """A label key: an optional DNS-subdomain prefix and '/', then a name."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        try:
            dns_subdomain(prefix)
        except ValueError:
            raise ValueError(
                f"label key {key!r}: prefix {prefix!r} is not a DNS-1123 subdomain (lowercase, '.'-separated)"
            ) from None
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"label key {key!r} is not valid: [prefix/]name, name {_LABEL_NAME_RULE}")
    return key


def label_value(key: str, value: Any) -> str:
    if not isinstance(value, str) or (value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value))):
        raise ValueError(f"label {key}={value!r}: a label value is empty or {_LABEL_NAME_RULE}")
    return value


def _connection_id(value: str) -> str:
    if not _CONNECTION_ID.fullmatch(value):
        raise ValueError("not an Airflow connection id: 1-250 characters of A-Z a-z 0-9 '_' '.' '-'")
    return value


DnsLabel = Annotated[str, AfterValidator(dns_label)]
ConnectionId = Annotated[str, AfterValidator(_connection_id)]


# -- paths and URLs on the app's HTTP connection -------------------------------------------------------


def relative_path(value: str, placeholders: bool = False) -> str:
    """A path on the configured connection: starts with '/', no scheme, no '//' or '@', no '..' segment,
    no whitespace or control characters."""
    text = value
    if placeholders:
        for token, sample in _PLACEHOLDERS.items():
            text = text.replace(token, sample)
    problems = []
    if not text.startswith("/"):
        problems.append("must start with '/'")
    if "//" in text or "@" in text or "\\" in text:
        problems.append("must not contain '//', '@' or a backslash")
    if _CONTROL.search(text) or any(c.isspace() for c in text):
        problems.append("must not contain whitespace or control characters")
    if ".." in text.split("?", 1)[0].split("/"):
        problems.append("must not contain a '..' segment")
    if "#" in text:
        problems.append("must not contain a fragment ('#')")
    if "{" in text or "}" in text:
        allowed = "{namespace} and {service}" if placeholders else "none"
        problems.append(f"has an unknown placeholder (allowed: {allowed})")
    if problems:
        raise ValueError(
            "a path on the configured connection, e.g. '/api/v1/items'; it " + ", ".join(problems)
        )
    return value


def endpoint(value: str) -> str:
    """'' (the connection's base URL), a path on the connection, or an absolute http(s) URL."""
    if value == "":
        return value
    if not value.lower().startswith(("http://", "https://")):
        return relative_path(value, placeholders=True)
    text = value
    for token, sample in _PLACEHOLDERS.items():
        text = text.replace(token, sample)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    host = parts.hostname or ""
    if (
        _CONTROL.search(text)
        or any(c.isspace() for c in text)
        or "@" in parts.netloc
        or parts.fragment
        or "\\" in text
        or "{" in text
        or "}" in text
        or not host
        or (port is not None and not 0 < port < 65536)
    ):
        raise ValueError(
            "an absolute endpoint is http(s)://host[:port][/path] with no user info ('@'), fragment, "
            "whitespace or unknown placeholder (allowed: {namespace}, {service}); or use a path on the connection"
        )
    try:
        dns_subdomain(host.lower())
    except ValueError:
        if not re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host):
            raise ValueError(f"host {parts.hostname!r} is not a DNS name or an IP address") from None
    if parts.path or parts.query:
        relative_path(parts.path or "/", placeholders=False)
    return value


def http_link(value: str) -> str:
    """A link shown in the Airflow UI and Slack: an http(s) URL (never `javascript:` or the like)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = urlsplit("")
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or _CONTROL.search(value)
        or " " in value
    ):
        raise ValueError(
            "must be an http(s) URL with a host and no whitespace, e.g. https://grafana.example.com/d/app"
        )
    return value


def safe_regex(value: str) -> str:
    check_regex(value, "regular expression")
    return value
