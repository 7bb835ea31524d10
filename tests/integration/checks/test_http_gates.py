"""CI, registry and backup gates against local servers that speak the real API shapes."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from airlock.checks.backups import check_backup
from airlock.checks.ci import check_ci
from airlock.checks.registry import check_images
from airlock.checks.result import run_guarded
from tests.fixtures.fake_apis import FakeRegistry, Reply

REPO = "payments/payment-service"


@pytest.fixture
def ci_runs(fake_github, airflow_connections):
    """The CI gate's GitHub client as the operator builds it: a `github` connection whose host is the
    stand-in's URL, through GithubHook."""
    from hooks.github_ci import GithubCiRuns

    def make(token: str = "test-token") -> GithubCiRuns:
        airflow_connections(
            "github_ci_test", {"conn_type": "github", "host": fake_github.url, "password": token}
        )
        return GithubCiRuns("github_ci_test")

    return make


def test_ci_passes_for_the_tagged_commit(fake_github, ci_runs):
    sha = fake_github.add_ref(REPO, "v1.2.3")
    fake_github.add_run(REPO, sha, run_number=7)
    fake_github.add_run(REPO, "f" * 40, conclusion="failure")  # another commit: irrelevant
    r = check_ci(ci_runs(), REPO, "v{version}", "1.2.3")
    assert r.status == "pass", r.reason
    assert r.evidence["sha"] == sha and r.evidence["runs"][0]["run_number"] == 7
    commit_req, runs_req = fake_github.requests
    assert commit_req.path == f"/repos/{REPO}/commits/v1.2.3"
    assert runs_req.path == f"/repos/{REPO}/actions/runs" and runs_req.param("head_sha") == sha
    assert runs_req.param("per_page") == "100"
    assert runs_req.headers["Authorization"] == "token test-token"  # PyGithub's token scheme


def test_ci_fails_naming_the_newest_run(fake_github, ci_runs):
    sha = fake_github.add_ref(REPO, "v1.2.3")
    fake_github.add_run(REPO, sha, run_number=7)
    bad = fake_github.add_run(REPO, sha, run_number=8, conclusion="failure")
    r = check_ci(ci_runs(), REPO, "v{version}", "1.2.3")
    assert r.status == "fail"
    assert f"run {bad['id']}" in r.reason and "conclusion=failure" in r.reason and bad["html_url"] in r.reason
    assert r.evidence["runs"][0]["created_at"] == bad["created_at"]


def test_ci_in_progress_and_workflow_filter(fake_github, ci_runs):
    sha = fake_github.add_ref(REPO, "v2.0.0")
    fake_github.add_run(REPO, sha, name="CI", path=".github/workflows/ci.yml")
    fake_github.add_run(REPO, sha, name="E2E", path=".github/workflows/e2e.yml", status="in_progress")
    runs = ci_runs()
    assert check_ci(runs, REPO, "v{version}", "2.0.0").status == "fail"
    r = check_ci(runs, REPO, "v{version}", "2.0.0", workflow="ci.yml")
    assert r.status == "pass", r.reason


def test_ci_unknown_ref_and_bad_token(fake_github, ci_runs):
    r = check_ci(ci_runs(), REPO, "v{version}", "9.9.9")
    assert r.status == "fail" and r.reason == f"ref 'v9.9.9' does not exist in {REPO} (HTTP 422)"
    r = run_guarded("ci", lambda: check_ci(ci_runs(token="wrong"), REPO, "v{version}", "1"))
    assert r.status == "fail" and "HTTP 401: Bad credentials" in r.reason, r.reason
    assert "wrong" not in r.reason


def test_ci_by_sha_skips_ref_resolution(fake_github, ci_runs):
    sha = "c" * 40
    fake_github.add_run(REPO, sha)
    r = check_ci(ci_runs(), REPO, "{version}", sha)
    assert r.status == "pass" and [q.path for q in fake_github.requests] == [f"/repos/{REPO}/actions/runs"]


def test_ci_reads_every_page_of_runs(fake_github, ci_runs):
    """250 runs of other workflows, then the failing one on page 3: the gate follows GitHub's Link header."""
    sha = fake_github.add_ref(REPO, "v3.0.0")
    bad = fake_github.add_run(
        REPO, sha, name="Nightly", path=".github/workflows/nightly.yml", conclusion="failure"
    )
    for i in range(250):
        fake_github.add_run(REPO, sha, name=f"W{i}", path=f".github/workflows/w{i}.yml")
    r = check_ci(ci_runs(), REPO, "v{version}", "3.0.0")
    assert r.status == "fail" and f"run {bad['id']} (Nightly)" in r.reason, r.reason
    pages = [q.param("page") for q in fake_github.requests_to(f"/repos/{REPO}/actions/runs")]
    assert pages == [None, "2", "3"] and len(r.evidence["runs"]) == 251


def test_ci_server_errors_are_retried_a_bounded_number_of_times(fake_github, ci_runs, monkeypatch):
    """GitHub answering 502 is retried (3 retries), then the gate fails naming the call: never a hang."""
    monkeypatch.setattr(fake_github, "handle", lambda request: Reply(502, {"message": "Bad gateway"}))
    r = run_guarded("ci", lambda: check_ci(ci_runs(), REPO, "v{version}", "1.2.3"))
    assert r.status == "fail", r.reason
    assert r.reason == (
        f"check could not run: RuntimeError: GitHub GET /repos/{REPO}/commits/v1.2.3 via connection "
        "'github_ci_test': gave up after 3 retries: too many 502 error responses"
    )
    assert len(fake_github.requests) == 4  # the first call and 3 retries


def test_registry_bearer_flow_with_credentials(fake_registry):
    fake_registry.push("payments/api", "1.2.3")
    digest = fake_registry.push("payments/api", "1.2.2")
    images = {
        "new": f"{fake_registry.host}/payments/api:1.2.3",
        "rollback": f"{fake_registry.host}/payments/api:1.2.2",
    }
    r = check_images(requests.Session(), images, "deployer", "s3cret", credentials_host=fake_registry.host)
    assert r.status == "pass", r.reason
    assert r.evidence["images"]["rollback"]["digest"] == digest
    heads = fake_registry.requests_to("/v2/", "HEAD")
    tokens = fake_registry.requests_to("/token")
    assert len(heads) == 4 and heads[0].headers.get("Authorization") is None
    assert heads[1].headers["Authorization"].startswith("Bearer ")
    assert "application/vnd.oci.image.manifest.v1+json" in heads[1].headers["Accept"]
    assert "application/vnd.docker.distribution.manifest.v2+json" in heads[1].headers["Accept"]
    assert (
        tokens[0].param("scope") == "repository:payments/api:pull"
        and tokens[0].param("service") == "fake-registry"
    )
    assert tokens[0].headers["Authorization"].startswith("Basic ")
    assert len(tokens) == 1  # the token for this scope is reused


def test_registry_missing_rollback_image_fails(fake_registry):
    fake_registry.push("payments/api", "1.2.3")
    images = {
        "new": f"{fake_registry.host}/payments/api:1.2.3",
        "rollback": f"{fake_registry.host}/payments/api:1.0.0",
    }
    r = check_images(requests.Session(), images, "deployer", "s3cret", credentials_host=fake_registry.host)
    assert r.status == "fail"
    assert r.reason.startswith(f"rollback image {fake_registry.host}/payments/api:1.0.0 not found")


def test_registry_wrong_password_fails(fake_registry):
    fake_registry.push("payments/api", "1.2.3")
    images = {"new": f"{fake_registry.host}/payments/api:1.2.3"}
    r = run_guarded("registry", lambda: check_images(requests.Session(), images, "deployer", "nope"))
    assert r.status == "fail" and "token endpoint" in r.reason and "401" in r.reason


def test_registry_anonymous_and_connection_override():
    with FakeRegistry() as registry:
        registry.push("team/app", "v1")
        # the image names a host that does not exist; the connection override (host/schema) wins
        r = check_images(
            requests.Session(),
            {"new": "registry.example.com/team/app:v1", "rollback": None},
            base_url_override=registry.url,
            credentials_host="registry.example.com",
        )
        assert r.status == "warn" and "nothing deployed yet" in r.reason
        assert r.evidence["images"]["new"]["exists"]


def test_backup_from_status_endpoint(fake_backup):
    fake_backup.set_age(timedelta(hours=2))
    r = check_backup(requests.Session(), timedelta(hours=24), url=f"{fake_backup.url}/backup/status")
    assert r.status == "pass" and "2h ago" in r.reason
    fake_backup.last_success = (datetime.now(UTC) - timedelta(hours=30)).timestamp()  # unix seconds
    r = check_backup(requests.Session(), timedelta(hours=24), url=f"{fake_backup.url}/backup/status")
    assert r.status == "fail" and "max age 1d" in r.reason
    fake_backup.last_success = None
    assert (
        check_backup(requests.Session(), timedelta(hours=1), url=f"{fake_backup.url}/backup/status").status
        == "fail"
    )


def test_backup_from_prometheus_metric(fake_backup):
    fake_backup.set_age(timedelta(minutes=90))
    metric = 'backup_last_success_timestamp_seconds{db="payments"}'
    r = check_backup(requests.Session(), timedelta(hours=1), prometheus_url=fake_backup.url, metric=metric)
    assert r.status == "fail" and "1h30m old" in r.reason
    assert fake_backup.requests_to("/api/v1/query")[0].param("query") == metric
    r = check_backup(
        requests.Session(), timedelta(hours=1), prometheus_url=fake_backup.url, metric="other_metric"
    )
    assert r.status == "fail" and "no successful backup" in r.reason
