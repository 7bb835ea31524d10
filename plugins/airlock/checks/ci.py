"""CI passed for the exact commit being deployed (GitHub Actions REST API).

The ref (tag, branch or SHA, from `spec.gates.ci.ref` with {version}) is resolved to a commit SHA
(`GET /repos/{repo}/commits/{ref}`), then the commit's workflow runs are listed
(`GET /repos/{repo}/actions/runs?head_sha=<sha>`) by a `CiRuns` the adapter supplies (hooks/github_ci.py,
PyGithub through GithubHook). For every workflow the newest run (highest run number, then attempt) must be
completed with conclusion success; an optional workflow filter (file name such as `ci.yml`, workflow name
or id) narrows the runs.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from airlock.checks.result import FAIL, PASS, CheckResult

NAME = "ci"
_SHA = re.compile(r"^[0-9a-f]{40}$")
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


class CiRuns(Protocol):
    """Where the runs come from (the adapter: GitHub through the github provider's GithubHook)."""

    def commit_sha(self, repository: str, ref: str) -> str:
        """The commit `ref` (tag, branch or SHA) points at; LookupError when the ref does not exist."""
        ...

    def workflow_runs(self, repository: str, sha: str) -> list[dict[str, Any]]:
        """Every workflow run for commit `sha`, as the REST API's run objects (id, name, path, workflow_id,
        head_sha, run_number, run_attempt, status, conclusion, html_url, created_at)."""
        ...


def check_ci(
    runs: CiRuns,
    repository: str,
    ref_template: str,
    version: str,
    workflow: str | None = None,
) -> CheckResult:
    ref = render_ref(ref_template, version)
    try:
        # a full SHA needs no lookup: one call fewer, and it works for commits no ref points at
        sha = ref if _SHA.match(ref) else runs.commit_sha(repository, ref)
    except LookupError as exc:
        return CheckResult(NAME, FAIL, str(exc), {"ref": ref, "repository": repository})
    result = judge_ci_runs(runs.workflow_runs(repository, sha), ref, sha, workflow)
    result.evidence["repository"] = repository
    return result
