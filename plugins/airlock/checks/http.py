"""The small HTTP surface the checks need; a `requests.Session` satisfies it (tests may pass a fake)."""

from __future__ import annotations

from typing import Any, Protocol

DEFAULT_TIMEOUT = 10.0


class HttpResponse(Protocol):
    status_code: int
    headers: Any
    text: str

    def json(self) -> Any: ...


class HttpSession(Protocol):
    # the keyword arguments the checks pass; requests.Session.request accepts each of them
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = ...,
        headers: Any = ...,
        json: Any = ...,
        auth: Any = ...,
        timeout: Any = ...,
        allow_redirects: bool = ...,
    ) -> Any: ...


def join_url(base: str, path: str) -> str:
    """base + path with exactly one slash between them; an absolute path (http://...) wins."""
    if path.startswith(("http://", "https://")):
        return path
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def expect_json(response: Any, what: str) -> Any:
    """The JSON body of a 2xx answer, else a RuntimeError naming the call, code and start of the body."""
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError as exc:
        raise RuntimeError(f"{what}: answer is not JSON: {response.text[:300]!r}") from exc
