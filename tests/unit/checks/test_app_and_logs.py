import re

from airlock.checks.endpoints import target_url
from airlock.checks.health import judge_health
from airlock.checks.log_scan import (
    LogSample,
    compare,
    image_tag,
    judge_logs,
    normalise,
    scan_lines,
    signatures_table,
)
from airlock.checks.result import CheckResult
from airlock.checks.smoke import get_path, judge_smoke, smoke_verdict
from airlock.spec import SmokeTest, parse_spec


def test_judge_health():
    assert judge_health(200, {"status": "healthy", "version": "1.2.3"}, "healthy", "1.2.3")[0]
    assert judge_health(200, {"status": "healthy", "version": "1.2.3"}, "healthy", "v1.2.3")[0]
    assert judge_health(200, {"status": "healthy", "version": "1.2.2"}, "healthy", None)[0]
    assert judge_health(200, {"status": "healthy", "version": "1.2.2"}, "healthy", "1.2.3") == (
        False,
        "version '1.2.2', expected '1.2.3'",
    )
    assert judge_health(200, {"status": "degraded"}, "healthy", None) == (
        False,
        "status 'degraded', expected 'healthy'",
    )
    assert judge_health(503, {}, "healthy", None) == (False, "HTTP 503")
    assert not judge_health(200, "ok", "healthy", None)[0]


def test_smoke_dotted_paths_and_verdicts():
    body = {"state": "processed", "payment": {"items": [{"id": 7}]}, "a.b": 1}
    assert get_path(body, "payment.items.0.id") == 7
    assert get_path(body, "a.b") == 1
    test = SmokeTest.model_validate(
        {
            "name": "pay",
            "path": "/p",
            "expect": {"status": 201, "json": {"state": "processed", "payment.items.0.id": 7}},
        }
    )
    assert judge_smoke(test, 201, body) == []
    assert judge_smoke(test, 500, {"state": "failed"}) == [
        "HTTP 500, expected 201",
        "state='failed', expected 'processed'",
        "payment.items.0.id missing",
    ]
    results = [CheckResult("a", "pass", ""), CheckResult("b", "warn", "x")]
    assert smoke_verdict(results).status == "warn"
    assert smoke_verdict(results + [CheckResult("c", "fail", "y")]).status == "fail"
    assert smoke_verdict(results[:1]).status == "pass"


def test_target_urls():
    spec = parse_spec(
        {
            "service": "pay",
            "image": "reg.io/pay",
            "kubernetes": {"service": "pay-svc"},
            "endpoints": {
                "staging": "/_sim/apps/{namespace}/{service}",
                "production": "https://pay.example.com",
                "preview": "/_sim/apps/{namespace}/{service}-preview",
            },
        }
    )
    assert (
        target_url(spec, "staging", "http://127.0.0.1:9/") == "http://127.0.0.1:9/_sim/apps/staging/pay-svc"
    )
    assert target_url(spec, "production", "http://127.0.0.1:9") == "https://pay.example.com"
    assert target_url(spec, "preview", "http://h") == "http://h/_sim/apps/production/pay-svc-preview"


def test_normalise_replaces_variable_parts():
    a = normalise(
        "2026-01-02T03:04:05.123Z ERROR payment 550e8400-e29b-41d4-a716-446655440000 failed: "
        'user "alice" amount 12.50 at 0x7ffe1234 trace 9f86d081884c7d65'
    )
    b = normalise(
        "2026-02-03T11:22:33Z ERROR payment 123e4567-e89b-12d3-a456-426614174000 failed: "
        'user "bob" amount 3 at 0xdeadbeef trace 1234abcd5678ef90'
    )
    assert a == b == '<ts> ERROR payment <uuid> failed: user "<str>" amount <num> at <hex> trace <hex>'
    assert normalise("Jan  2 03:04:05 host error code=500") == "<ts> host error code=<num>"
    assert normalise("http2 error in v2 handler") == "http2 error in v2 handler"


def sample(lines, pods=("p",)):
    s = LogSample(pods=list(pods))
    scan_lines("\n".join(lines), [re.compile(r"(?i)\berror\b"), re.compile("Exception")], s)
    return s


def test_compare_new_increased_known():
    stable = sample(["ok"] * 90 + ["ERROR db timeout after 30s"] * 10)
    new = sample(
        ["ok"] * 50
        + ["ERROR db timeout after 5s"] * 5
        + ["NullPointerException at Foo.java:12"] * 3
        + ["ERROR cache miss 1"] * 2
    )
    stable.signatures["ERROR cache miss <num>"] = 1
    rows = {r["signature"]: r for r in compare(new, stable, max_increase_ratio=3.0)}
    assert rows["ERROR db timeout after <num>s"]["verdict"] == "known"  # 5/60 vs 10/100: 0.8x
    assert rows["NullPointerException at Foo.java:<num>"]["verdict"] == "new"
    assert rows["ERROR cache miss <num>"]["verdict"] == "increased"
    assert rows["ERROR cache miss <num>"]["count_stable"] == 1


def test_judge_logs_thresholds_and_table():
    stable = sample(["ok", "ERROR known"])
    new = sample(["ok", "ERROR known", "Exception boom"])
    r = judge_logs(new, stable, 3.0, 0, "1.2.3")
    assert r.status == "fail" and "1 new/increased error signature(s) > allowed 0" in r.reason
    assert judge_logs(new, stable, 3.0, 1, "1.2.3").status == "warn"
    assert judge_logs(sample(["ok", "ERROR known"]), stable, 3.0, 0, "1.2.3").status == "pass"
    assert judge_logs(LogSample(), stable, 3.0, 0, "1.2.3").status == "fail"
    # no stable pods: nothing to compare with -> the signatures are listed, not judged (warning)
    unjudged = judge_logs(new, LogSample(), 3.0, 0, "1.2.3")
    assert unjudged.status == "warn" and "no stable pods to compare with" in unjudged.reason
    assert {row["verdict"] for row in unjudged.evidence["signatures"]} == {"no baseline"}
    assert judge_logs(sample(["ok"]), LogSample(), 3.0, 0, "1.2.3").status == "pass"
    table = signatures_table(r.evidence["signatures"])
    assert table.splitlines()[0] == "signature      | count new | count stable | verdict"
    assert "Exception boom | 1         | 0            | new" in table


def test_image_tag():
    assert image_tag("reg.io:5000/a/b:1.2.3") == "1.2.3"
    assert image_tag("reg.io:5000/a/b") == "latest"
    assert image_tag("reg.io/a/b@sha256:" + "a" * 64) is None
    assert image_tag("reg.io/a/b:1.0@sha256:" + "a" * 64) == "1.0"
