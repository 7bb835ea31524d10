"""Image references, parsed once, by the OCI distribution reference grammar.

The grammar is github.com/distribution/reference (regexp.go):

    reference       := name [ ":" tag ] [ "@" digest ]
    name            := [domain '/'] remote-name
    domain          := host [':' port-number]
    host            := domain-name | IPv4address | '[' IPv6address ']'
    domain-name     := domain-component ['.' domain-component]*
    domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    remote-name     := path-component ['/' path-component]*
    path-component  := alpha-numeric [separator alpha-numeric]*
    alpha-numeric   := /[a-z0-9]+/
    separator       := /[_.]|__|[-]+/
    tag             := /[\\w][\\w.-]{0,127}/
    digest          := algorithm ":" hex        (algorithm /[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*/,
                                                 hex /[0-9a-fA-F]{32,}/)

As in the grammar (reference.Parse, not Docker's normalisation), the first component is the domain
whenever there is a '/' and it is a valid domain: `team/app` has domain `team`. Docker Hub's defaults
(`registry-1.docker.io` as the API host, `library/` for official images) apply to the `docker.io` domain:
see `ImageRef.registry_host` and `ImageRef.remote_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_TOTAL_LENGTH_MAX = 255  # distribution/reference: NameTotalLengthMax

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")

DOCKER_HUB_DOMAINS = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_API_HOST = "registry-1.docker.io"

TAG_RULE = "at most 128 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'"


@dataclass(frozen=True)
class ImageRef:
    """One parsed reference: `domain/path:tag@digest` (domain, tag and digest optional)."""

    domain: str | None  # registry host[:port] as written, None when the reference has none
    path: str  # repository path inside the registry, e.g. "team/app"
    tag: str | None = None
    digest: str | None = None  # "sha256:<hex>"

    @property
    def repository(self) -> str:
        """domain/path as written, without tag or digest."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def reference(self) -> str | None:
        """What a registry resolves: the digest when there is one, else the tag."""
        return self.digest or self.tag

    @property
    def is_docker_hub(self) -> bool:
        return self.domain in DOCKER_HUB_DOMAINS

    @property
    def registry_host(self) -> str | None:
        """The host serving the registry API (Docker Hub's is registry-1.docker.io); None without domain."""
        return DOCKER_HUB_API_HOST if self.is_docker_hub else self.domain

    @property
    def remote_name(self) -> str:
        """The repository name in the registry API: Docker Hub's official images live under library/."""
        if self.is_docker_hub and "/" not in self.path:
            return f"library/{self.path}"
        return self.path

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_valid_tag(tag: object) -> bool:
    """A tag by the grammar: 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'."""
    return isinstance(tag, str) and _TAG.fullmatch(tag) is not None


def _split_domain(name: str) -> tuple[str | None, str]:
    first, sep, rest = name.partition("/")
    if sep and _DOMAIN.fullmatch(first) and _is_remote_name(rest):
        return first, rest
    return None, name


def _is_remote_name(text: str) -> bool:
    return all(_PATH_COMPONENT.fullmatch(part) for part in text.split("/"))


def parse_image_ref(text: str) -> ImageRef:
    """Parse `[domain/]path[:tag][@digest]`; ValueError naming the reference and the broken part."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"image reference {text!r} is empty; expected [registry/]repository[:tag][@digest]")
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise ValueError(
            f"image reference {text!r}: digest {digest!r} is not '<algorithm>:<hex, at least 32 digits>'"
        )
    tag: str | None = None
    last_colon, last_slash = name.rfind(":"), name.rfind("/")
    if last_colon > last_slash:
        name, tag = name[:last_colon], name[last_colon + 1 :]
        if not is_valid_tag(tag):
            raise ValueError(f"image reference {text!r}: tag {tag!r} is not a valid tag ({TAG_RULE})")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ValueError(
            f"image reference {text!r}: the name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    domain, path = _split_domain(name)
    if not _is_remote_name(path):
        raise ValueError(
            f"image reference {text!r}: repository {path!r} is not valid: '/'-separated components of "
            "lowercase letters and digits, joined by '.', '_', '__' or '-' (registry host first, optional)"
        )
    return ImageRef(domain, path, tag, digest or None)


def parse_repository(text: str) -> ImageRef:
    """A repository without tag or digest (what a service spec's `image` is)."""
    ref = parse_image_ref(text)
    if ref.tag or ref.digest:
        part = f"tag {ref.tag!r}" if ref.tag else f"digest {ref.digest!r}"
        raise ValueError(
            f"image {text!r} has a {part}; write the repository only ({ref.repository!r}): "
            "the tag is each run's version"
        )
    return ref


def with_tag(repository: str, tag: str) -> str:
    """`registry/app` + `v1.2.3` -> `registry/app:v1.2.3`; ValueError if either part is not valid."""
    ref = parse_repository(repository)
    if not is_valid_tag(tag):
        raise ValueError(f"version {tag!r} is not a valid image tag ({TAG_RULE})")
    return f"{ref.repository}:{tag}"
