"""A secret never leaves where it is kept: one unique sentinel is put in a connection password (Prometheus,
basic auth), the Slack webhook URL, the `airlock_api` password (the record task's login to Airflow's REST
API) and a pod env value of the service's production Deployment; a canary that fails and is rolled back
runs under dag.test() against kubesim, a real Prometheus and Alertmanager, the local Slack receiver and
an in-process Airflow API server. The sentinel must then be in no task log, no XCom, not in the record
or the run note, and in no Slack post.

Every channel is checked with a positive control first: a harmless marker in the change summary is
found in the logs, XComs, record and Slack posts (so each capture really holds what the run wrote), the
env value did reach the API server inside the canary's body, the env *name* is in the logs next to its
redacted value, the posts went to the sentinel webhook, and Airflow's secrets masker knows the
sentinel. The same change summary carries Slack mentions and a disguised link, which arrive escaped.

Task logs: under dag.test() tasks run in this process, so their log lines are this process' stdout /
stderr and log records (captured raw, before any masking: the check is that Airlock never writes the
sentinel, not that Airflow hides it), plus any file under AIRFLOW_HOME.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.redact import REDACTED
from tests.fixtures.airflow import airflow_api_server
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.integration.dag import conftest
from tests.integration.dag.conftest import NS, World, build_dag, demo_spec, dump, start_world

pytestmark = pytest.mark.integration

SENTINEL = f"Sntl{secrets.token_hex(10)}"  # unique per session; alphanumeric, so no encoding hides it
MARKER = f"Mrkr{secrets.token_hex(6)}"  # not secret: must show up everywhere the change summary goes
HOSTILE = "<!channel> <!here> <@U024BE7LH> <http://evil.example|release notes> R&D"
ENV_NAME = "DB_PASSWORD"


@pytest.fixture
def sentinel_world(
    observability: Any,
    airflow_db: Any,
    airflow_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[World, str]]:
    plain_scenario = conftest.scenario

    def with_env(seed: int) -> dict[str, Any]:
        world = plain_scenario(seed)
        for obj in world["objects"]:
            if obj["kind"] == "Deployment":
                containers = obj["spec"]["template"]["spec"]["containers"]
                containers[0]["env"] = [
                    {"name": ENV_NAME, "value": SENTINEL},
                    {"name": "MODE", "value": "live"},
                ]
        return world

    monkeypatch.setattr(conftest, "scenario", with_env)
    with (
        airflow_api_server(monkeypatch, tmp_path, {"airlock": SENTINEL}) as api,
        start_world(observability, airflow_connections) as world,
    ):
        airflow_connections(
            "prometheus_default",
            {"conn_type": "http", "host": world.prometheus, "login": "airlock", "password": SENTINEL},
        )
        webhook = world.slack.url.rsplit("/", 1)[0] + f"/{SENTINEL}"
        airflow_connections("slack_deployments", {"conn_type": "slackwebhook", "password": webhook})
        airflow_connections(
            "airlock_api", {"conn_type": "http", "host": api, "login": "airlock", "password": SENTINEL}
        )
        yield world, api


def _xcoms(dag_run: Any) -> list[tuple[str, str, str]]:
    """Every XCom of the run as (task id, key, stored JSON text), read from the metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id
            )
        ).all()
    return [(task_id, key, json.dumps(value, default=str)) for task_id, key, value in rows]


def _note(dag_run: Any) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.get(DagRun, dag_run.id).note  # type: ignore[no-any-return, union-attr]


def _log_files() -> str:
    home = Path(os.environ["AIRFLOW_HOME"])
    texts = []
    for path in home.rglob("*"):
        if path.is_file() and (path.suffix in (".log", ".json", ".txt") or "logs" in path.parts):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_the_sentinel_reaches_no_log_xcom_record_or_slack_post(
    sentinel_world: tuple[World, str], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    world, _ = sentinel_world
    caplog.set_level(logging.INFO)
    spec = demo_spec(kubernetes={"staging": None})

    dr = run_dag(
        build_dag(spec),
        run_conf={
            "window": "now",
            "version": "v3.0.0",  # 8 % errors: the canary gate fails and the run rolls back
            "strategy": "canary",
            "change_summary": f"{MARKER} {HOSTILE}",
        },
    )

    out, err = capfd.readouterr()
    records = "\n".join(r.getMessage() for r in caplog.records)
    logs = "\n".join((out, err, caplog.text, records, _log_files()))
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "failed" and states["rollback"] == "success", dump(states)
    record = xcom_value(dr, "record")
    assert record["outcome"] == "rolled_back", dump(record)

    # the sentinel was really there: in the canary's body on the wire, in the webhook, in Airflow's masker
    sent = json.dumps([w.get("body") for w in world.writes()])
    assert SENTINEL in sent, "the canary copied the stable's template, env value included"
    assert world.slack.paths and all(p.endswith(SENTINEL) for p in world.slack.paths), world.slack.paths
    from airflow.sdk._shared.secrets_masker import redact

    assert redact(f"x {SENTINEL} y") == "x *** y", (
        "the tasks read the connections: Airflow masks the sentinel"
    )

    # task logs: the marker and the env name are there, the sentinel is not
    leaked = [line for line in logs.splitlines() if SENTINEL in line]
    assert not leaked, "\n".join(leaked[:10])
    assert MARKER in logs and f'"name": "{ENV_NAME}", "value": "{REDACTED}"' in logs

    # XCom: every value of the run
    xcoms = _xcoms(dr)
    assert any(MARKER in text for _, _, text in xcoms), "the run request (change summary) is an XCom"
    leaked_xcoms = [(task, key) for task, key, text in xcoms if SENTINEL in text]
    assert not leaked_xcoms, leaked_xcoms

    # the record and the run note (written through the REST API with the sentinel password)
    assert MARKER in json.dumps(record) and SENTINEL not in json.dumps(record)
    note = _note(dr)
    assert note and note.startswith("demo-api v3.0.0"), note
    assert SENTINEL not in note

    # Slack: start and outcome posted, marker in them, sentinel not, mentions and the link escaped
    posts = json.dumps(world.slack.messages, ensure_ascii=False)
    assert len(world.slack.messages) >= 2 and MARKER in posts, posts[:2000]
    assert SENTINEL not in posts
    start = world.slack.messages[0]
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt;" in start["text"], start["text"]
    assert "&lt;http://evil.example|release notes&gt; R&amp;D" in start["text"], start["text"]
    for raw in ("<!channel>", "<!here>", "<@U024BE7LH>", "<http://evil.example"):
        assert raw not in posts, raw

    # production is back on v1 with its env intact: redaction never touched what was sent
    stable = world.get("deployments", "demo-api", NS)
    assert stable is not None
    assert stable["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": ENV_NAME,
        "value": SENTINEL,
    }
