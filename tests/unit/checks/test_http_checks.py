from datetime import UTC, datetime, timedelta

import pytest

from airlock.checks.backups import judge_backup, parse_timestamp
from airlock.checks.ci import judge_ci_runs, render_ref, workflow_matches
from airlock.checks.incidents import judge_alerts, split_matchers
from airlock.checks.registry import judge_images, parse_challenge, parse_image, registry_base_url

SHA = "a" * 40


def run(
    id, name="CI", status="completed", conclusion="success", run_number=1, path=".github/workflows/ci.yml"
):
    return {
        "id": id,
        "name": name,
        "path": path,
        "workflow_id": hash(path) % 1000,
        "head_sha": SHA,
        "status": status,
        "conclusion": conclusion,
        "run_number": run_number,
        "html_url": f"https://github.com/o/r/actions/runs/{id}",
    }


def test_ci_newest_run_per_workflow_decides():
    assert judge_ci_runs([run(1)], "v1", SHA).status == "pass"
    # a failed run then a successful re-run: the newest (highest run number) wins
    assert (
        judge_ci_runs([run(1, conclusion="failure", run_number=1), run(2, run_number=2)], "v1", SHA).status
        == "pass"
    )
    r = judge_ci_runs([run(1, run_number=1), run(2, conclusion="failure", run_number=2)], "v1", SHA)
    assert r.status == "fail"
    assert "run 2" in r.reason and "conclusion=failure" in r.reason and "actions/runs/2" in r.reason


def test_ci_every_workflow_must_pass_and_in_progress_fails():
    runs = [
        run(1),
        run(2, name="Lint", path=".github/workflows/lint.yml", status="in_progress", conclusion=None),
    ]
    r = judge_ci_runs(runs, "v1", SHA)
    assert r.status == "fail" and "status=in_progress" in r.reason and "Lint" in r.reason
    # the workflow filter narrows the runs to one workflow
    assert judge_ci_runs(runs, "v1", SHA, workflow="ci.yml").status == "pass"
    assert judge_ci_runs(runs, "v1", SHA, workflow="lint.yml").status == "fail"


def test_ci_no_runs_and_only_skipped():
    r = judge_ci_runs([], "v1.2.3", SHA)
    assert r.status == "fail" and "no CI run found for v1.2.3" in r.reason
    assert judge_ci_runs([run(1, conclusion="skipped")], "v1", SHA).status == "fail"


def test_ci_helpers():
    assert render_ref("v{version}", "1.2.3") == "v1.2.3"
    assert workflow_matches({"path": ".github/workflows/ci.yml"}, "ci.yml")
    assert workflow_matches({"name": "CI", "path": "x"}, "CI")
    assert not workflow_matches({"path": ".github/workflows/deploy.yml", "name": "Deploy"}, "ci.yml")


def alert(name, severity="critical", silenced=(), state="active", fp=None):
    return {
        "labels": {"alertname": name, "severity": severity},
        "annotations": {"summary": f"{name} is on fire"},
        "startsAt": "2026-01-01T10:00:00Z",
        "fingerprint": fp or name,
        "status": {"state": state, "silencedBy": list(silenced), "inhibitedBy": []},
    }


def test_incidents_fail_lists_name_severity_summary_start():
    r = judge_alerts({'severity="critical"': [alert("PaymentsDown")], 'service="p"': [alert("PaymentsDown")]})
    assert r.status == "fail"
    assert (
        r.reason
        == "1 active incident(s): PaymentsDown [critical] since 2026-01-01T10:00:00Z: PaymentsDown is on fire "
        '(blocking alerts match (severity="critical") OR (service="p"))'
    )
    assert r.evidence["incidents"][0]["matched"] == ['severity="critical"', 'service="p"']


def test_incidents_ignore_silenced_and_suppressed():
    r = judge_alerts({'severity="critical"': [alert("A", silenced=["s1"]), alert("B", state="suppressed")]})
    assert r.status == "pass"


def test_split_matchers():
    assert split_matchers('severity="critical"') == ['severity="critical"']
    assert split_matchers('{a="x,y", b!~"z.*"}') == ['a="x,y"', 'b!~"z.*"']
    with pytest.raises(ValueError):
        split_matchers("not a matcher")


def test_parse_image_and_base_url():
    assert parse_image("reg.example.com/payments/api:1.2.3") == parse_image(
        "reg.example.com/payments/api:1.2.3"
    )
    ref = parse_image("127.0.0.1:5000/team/app:v2")
    assert (ref.host, ref.name, ref.reference) == ("127.0.0.1:5000", "team/app", "v2")
    ref = parse_image("reg.io/app@sha256:" + "b" * 64)
    assert ref.reference == "sha256:" + "b" * 64 and ref.full.endswith("@sha256:" + "b" * 64)
    with pytest.raises(ValueError):
        parse_image("app:1.0")
    with pytest.raises(ValueError):
        parse_image("reg.io/app")
    assert registry_base_url("localhost:5000") == "http://localhost:5000"
    assert registry_base_url("127.0.0.1") == "http://127.0.0.1"
    assert registry_base_url("reg.example.com") == "https://reg.example.com"


def test_parse_challenge():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.io/token",service="reg.io",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.io/token", "service": "reg.io", "scope": "repository:a/b:pull"}


def test_judge_images_statuses():
    ok = {"image": "r/a:1", "url": "u", "status": 200, "exists": True, "digest": "sha256:x"}
    missing = {"image": "r/a:0", "url": "u0", "status": 404, "exists": False, "digest": None}
    assert judge_images({"new": ok, "rollback": ok}).status == "pass"
    r = judge_images({"new": ok, "rollback": missing})
    assert r.status == "fail" and "rollback image r/a:0 not found" in r.reason
    assert judge_images({"new": ok}, ["no rollback image to check (nothing deployed yet)"]).status == "warn"


def test_backup_age():
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    r = judge_backup(now - timedelta(hours=3), timedelta(hours=24), now, "test")
    assert r.status == "pass" and "3h ago" in r.reason and r.evidence["age_seconds"] == 10800
    r = judge_backup(now - timedelta(hours=30), timedelta(hours=24), now, "test")
    assert r.status == "fail" and "1d6h old > max age 1d" in r.reason
    assert judge_backup(None, timedelta(hours=1), now, "test").status == "fail"


def test_parse_timestamp():
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_timestamp("1700000000.5").timestamp() == 1700000000.5
    assert parse_timestamp("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")
