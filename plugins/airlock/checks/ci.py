"""CI passed for the exact commit being deployed (GitHub Actions REST API).

The ref (tag, branch or SHA, from `spec.gates.ci.ref` with {version}) is resolved to a commit SHA with
`GET /repos/{repo}/commits/{ref}`, then `GET /repos/{repo}/actions/runs?head_sha=<sha>` lists the runs.
For every workflow the newest run (highest run number, then attempt) must be completed with conclusion
success; an optional workflow filter (file name such as `ci.yml`, workflow name or id) narrows the runs.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession, expect_json, join_url
from airlock.checks.result import FAIL, PASS, CheckResult

NAME = "ci"
_SHA = re.compile(r"^[0-9a-f]{40}$")
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
NON_BLOCKING = ("success", "skipped", "neutral")


def render_ref(template: str, version: str) -> str:
    return template.replace("{version}", version)


def workflow_matches(run: dict[str, Any], workflow: str | None) -> bool:
    if not workflow:
        return True
    path = str(run.get("path") or "")
    return (
        path == workflow
        or path.split("@")[0].endswith("/" + workflow)
        or run.get("name") == workflow
        or str(run.get("workflow_id")) == workflow
    )


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": run.get("id"),
        "workflow": run.get("name") or run.get("path"),
        "run_number": run.get("run_number"),
        "run_attempt": run.get("run_attempt", 1),
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "url": run.get("html_url"),
        "created_at": run.get("created_at"),
    }


def newest_per_workflow(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest: dict[Any, dict[str, Any]] = {}

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            int(r.get("run_number") or 0),
            int(r.get("run_attempt") or 1),
            str(r.get("created_at") or ""),
            int(r.get("id") or 0),
        )

    for run in runs:
        key = run.get("workflow_id") or run.get("path") or run.get("name")
        if key not in newest or order(run) > order(newest[key]):
            newest[key] = run
    return sorted(newest.values(), key=lambda r: str(r.get("name") or r.get("path") or ""))


def judge_ci_runs(runs: list[dict[str, Any]], ref: str, sha: str, workflow: str | None = None) -> CheckResult:
    relevant = [r for r in runs if r.get("head_sha", sha) == sha and workflow_matches(r, workflow)]
    latest = newest_per_workflow(relevant)
    evidence: dict[str, Any] = {
        "ref": ref,
        "sha": sha,
        "workflow": workflow,
        "runs": [_summary(r) for r in latest],
    }
    scope = f" of workflow {workflow}" if workflow else ""
    if not latest:
        return CheckResult(NAME, FAIL, f"no CI run{scope} found for {ref} (commit {sha[:12]})", evidence)
    bad = [r for r in latest if r.get("status") != "completed" or r.get("conclusion") not in NON_BLOCKING]
    if bad:
        described = "; ".join(
            f"run {r.get('id')} ({r.get('name') or r.get('path')}) status={r.get('status')} "
            f"conclusion={r.get('conclusion')} {r.get('html_url') or ''}".rstrip()
            for r in bad
        )
        return CheckResult(NAME, FAIL, f"CI not passed for {ref} (commit {sha[:12]}): {described}", evidence)
    if not any(r.get("conclusion") == "success" for r in latest):
        return CheckResult(
            NAME, FAIL, f"no CI run{scope} for {ref} succeeded (all skipped/neutral)", evidence
        )
    names = ", ".join(f"{r.get('name') or r.get('path')} #{r.get('run_number')}" for r in latest)
    return CheckResult(NAME, PASS, f"CI passed for {ref} (commit {sha[:12]}): {names}", evidence)


def resolve_ref(
    session: HttpSession, api_url: str, repository: str, ref: str, headers: dict[str, str]
) -> str:
    if _SHA.match(ref):
        return ref
    url = join_url(api_url, f"repos/{repository}/commits/{quote(ref, safe='')}")
    resp = session.request("GET", url, headers=headers, timeout=DEFAULT_TIMEOUT)
    if resp.status_code in (404, 422):
        raise LookupError(f"ref {ref!r} does not exist in {repository} (HTTP {resp.status_code})")
    return str(expect_json(resp, f"GET {url}")["sha"])


def list_runs(
    session: HttpSession, api_url: str, repository: str, sha: str, headers: dict[str, str]
) -> list[Any]:
    runs: list[Any] = []
    url = join_url(api_url, f"repos/{repository}/actions/runs")
    for page in range(1, 11):  # 1000 runs for one commit is far beyond any real pipeline
        resp = session.request(
            "GET",
            url,
            params={"head_sha": sha, "per_page": 100, "page": page},
            headers=headers,
            timeout=DEFAULT_TIMEOUT,
        )
        body = expect_json(resp, f"GET {url}")
        batch = body.get("workflow_runs") or []
        runs.extend(batch)
        if len(batch) < 100 or len(runs) >= int(body.get("total_count") or 0):
            break
    return runs


def check_ci(
    session: HttpSession,
    api_url: str,
    repository: str,
    ref_template: str,
    version: str,
    workflow: str | None = None,
    token: str | None = None,
) -> CheckResult:
    headers = dict(GITHUB_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    ref = render_ref(ref_template, version)
    try:
        sha = resolve_ref(session, api_url, repository, ref, headers)
    except LookupError as exc:
        return CheckResult(NAME, FAIL, str(exc), {"ref": ref, "repository": repository})
    runs = list_runs(session, api_url, repository, sha, headers)
    result = judge_ci_runs(runs, ref, sha, workflow)
    result.evidence["repository"] = repository
    return result
