"""End to end through a real `airflow standalone`: the demo's two runs, driven over the REST API.

v2 (healthy) as a canary must be promoted; v3 (~6 % errors) must be rolled back automatically with
the reason in Slack; the canary analysis task's log (read through the REST API, as a user would in
the UI) must contain the verdict table.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests

from demo.progress import RunWatcher
from demo.stack import Stack, free_port

pytestmark = pytest.mark.e2e
DAG_ID = "deploy_demo-api"


def _deployments(kubesim_url: str) -> dict[str, dict]:
    url = f"{kubesim_url}/apis/apps/v1/namespaces/production/deployments"
    return {d["metadata"]["name"]: d for d in requests.get(url, timeout=10).json()["items"]}


def _image(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_demo_flow_through_real_airflow(tmp_path: Path) -> None:
    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    lines: list[str] = []
    with Stack(tmp_path / "stack", airflow_port=free_port(), say=lines.append) as stack:
        api = stack.api
        assert api is not None
        api.wait_for_dag(DAG_ID)
        assert api.import_errors() == []
        api.unpause(DAG_ID)

        good = api.trigger(
            DAG_ID,
            {"version": "v2", "strategy": "canary", "window": "now", "change_summary": "e2e healthy canary"},
        )
        result = RunWatcher(api, DAG_ID, good["dag_run_id"], stack.kubesim_url, lines.append).follow(
            timeout=480
        )
        assert result.state == "success", "\n".join(lines[-60:])
        deployments = _deployments(stack.kubesim_url)
        assert _image(deployments["demo-api"]) == "registry.example/demo-api:v2"
        assert deployments["demo-api"]["spec"]["replicas"] == 6
        assert "demo-api-canary" not in deployments or deployments["demo-api-canary"]["spec"]["replicas"] == 0

        tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, good["dag_run_id"])}
        analysis = tis["production.canary.analysis_1"]
        assert analysis["state"] == "success"
        log = api.task_log(
            DAG_ID, good["dag_run_id"], "production.canary.analysis_1", int(analysis.get("try_number") or 1)
        )
        # the verdict table, as the person in the UI reads it: header row and the error-rate rows
        for column in (
            "metric",
            "canary",
            "baseline",
            "threshold",
            "statistic",
            "samples (err/req)",
            "status",
        ):
            assert column in log, (column, log[-3000:])
        assert "canary gate after" in log and "error_rate" in log, log[-3000:]

        # as in the demo: a hotfix skips the staging soak, so the production canary must catch v3
        bad = api.trigger(
            DAG_ID,
            {
                "version": "v3",
                "strategy": "canary",
                "window": "now",
                "risk": "hotfix",
                "change_summary": "e2e bad canary",
            },
        )
        result = RunWatcher(api, DAG_ID, bad["dag_run_id"], stack.kubesim_url, lines.append).follow(
            timeout=480
        )
        assert result.state == "failed", "\n".join(lines[-60:])
        tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, bad["dag_run_id"])}
        assert tis["staging.soak"]["state"] == "skipped"  # hotfix, recorded as such
        # a 25 % canary at ~20 req/s sees ~150 requests per step: usually step 1 catches 6 % errors,
        # otherwise step 2 (50 %); either way before promotion
        failed = [t for t, ti in tis.items() if ti["state"] == "failed" and t != "outcome"]
        assert failed in (["production.canary.analysis_1"], ["production.canary.analysis_2"]), failed
        assert tis["rollback"]["state"] == "success"
        assert tis["production.canary.promote"]["state"] in ("upstream_failed", "skipped")
        deployments = _deployments(stack.kubesim_url)
        assert _image(deployments["demo-api"]) == "registry.example/demo-api:v2", "stable must stay on v2"
        assert "demo-api-canary" not in deployments, "rollback deletes the canary"

        texts = stack.slack.texts()
        assert any("v2" in t for t in texts), texts
        rollback_msgs = [t for t in texts if "v3" in t and "roll" in t.lower()]
        assert rollback_msgs, texts
        assert any("error rate" in t.lower() for t in rollback_msgs), rollback_msgs
        groups = stack.pids()
        assert len(groups) == 4  # kubesim, prometheus, alertmanager, airflow standalone
    # stopping the stack ended every process it started, children of airflow standalone included
    for pgid in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
