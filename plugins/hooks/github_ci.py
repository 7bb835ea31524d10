"""The CI gate's view of GitHub: a `github` connection through the github provider's GithubHook (PyGithub).

The connection's password is the token (a GitHub App works too: the provider's extras); its host, when
set, is the API base URL (GitHub Enterprise `https://<host>/api/v3`, or a local stand-in in tests).
GithubHook builds a client with PyGithub's defaults (15 s timeout, up to 10 retries and an unbounded wait
for a rate-limit reset); a gate needs bounded calls, so the client is rebuilt from the hook's one with the
same auth and base URL and a 10 s timeout, 3 retries and at most 30 s of rate-limit waiting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests
from airflow.providers.github.hooks.github import GithubHook
from github import Github, GithubException, GithubRetry, UnknownObjectException

CALL_TIMEOUT_S = 10
RETRIES = 3  # on 5xx and rate-limit 403s, with backoff 0.5 s, 1 s, 2 s
MAX_RATE_LIMIT_WAIT_S = 30
MAX_RUNS = 1000  # far beyond any real pipeline for one commit; bounds the pagination


def bounded_client(client: Github) -> Github:
    """The same client (auth, base URL, API version) with a bounded timeout, retries and page size."""
    kwargs = client.requester.kwargs
    kwargs.update(
        timeout=CALL_TIMEOUT_S,
        retry=GithubRetry(total=RETRIES, backoff_factor=0.5, max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_S),
        per_page=100,
    )
    return Github(**kwargs)


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class GithubCiRuns:
    """`airlock.checks.ci.CiRuns` over the GitHub REST API."""

    def __init__(self, conn_id: str = GithubHook.default_conn_name) -> None:
        self.conn_id = conn_id
        self.client = bounded_client(GithubHook(github_conn_id=conn_id).get_conn())

    def _failed(self, what: str, exc: GithubException | requests.RequestException) -> RuntimeError:
        if isinstance(exc, GithubException):
            message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
            reason = f"HTTP {exc.status}: {message}"
        elif isinstance(exc, requests.exceptions.RetryError):
            # urllib3's reason, e.g. "too many 502 error responses", after the bounded retries
            reason = f"gave up after {RETRIES} retries: {exc.args[0].reason if exc.args else exc}"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return RuntimeError(f"GitHub {what} via connection {self.conn_id!r}: {reason}")

    def commit_sha(self, repository: str, ref: str) -> str:
        what = f"GET /repos/{repository}/commits/{ref}"
        try:
            # the repository object is lazy (no GET /repos/{repo}); complete() makes the commit's GET, which
            # resolves the ref (a lazy commit would only echo the ref back as its sha)
            return str(self.client.get_repo(repository, lazy=True).get_commit(ref).complete().sha)
        except UnknownObjectException as exc:
            raise LookupError(f"ref {ref!r} does not exist in {repository} (HTTP {exc.status})") from None
        except GithubException as exc:
            if exc.status == 422:  # GitHub's answer for a ref that names no commit
                raise LookupError(f"ref {ref!r} does not exist in {repository} (HTTP 422)") from None
            raise self._failed(what, exc) from None
        except requests.RequestException as exc:
            raise self._failed(what, exc) from None

    def workflow_runs(self, repository: str, sha: str) -> list[dict[str, Any]]:
        what = f"GET /repos/{repository}/actions/runs?head_sha={sha}"
        runs: list[dict[str, Any]] = []
        try:
            for run in self.client.get_repo(repository, lazy=True).get_workflow_runs(head_sha=sha):
                runs.append(
                    {
                        "id": run.id,
                        "name": run.name,
                        "path": run.path,
                        "workflow_id": run.workflow_id,
                        "head_sha": run.head_sha,
                        "run_number": run.run_number,
                        "run_attempt": run.run_attempt,
                        "status": run.status,
                        "conclusion": run.conclusion,
                        "html_url": run.html_url,
                        "created_at": _iso(run.created_at),
                    }
                )
                if len(runs) >= MAX_RUNS:
                    break
        except (GithubException, requests.RequestException) as exc:
            raise self._failed(what, exc) from None
        return runs
