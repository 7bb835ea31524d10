"""The incidents gate against a real Alertmanager (Debian prometheus-alertmanager)."""

from datetime import timedelta

import pytest
import requests

from airlock.checks.incidents import check_incidents
from airlock.checks.preflight import HttpEndpoint, run_preflight
from airlock.spec import parse_spec

pytestmark = pytest.mark.integration


class AlertmanagerOnlyIO:
    def __init__(self, url):
        self.url = url

    def http(self, conn_id):
        assert conn_id == "alertmanager_default"
        return HttpEndpoint(requests.Session(), self.url)

    def kube(self, environment):  # pragma: no cover - no kube gate is configured here
        raise AssertionError("no kube gate configured")

    def session(self):  # pragma: no cover
        return requests.Session()


def spec_with_incidents_only():
    return parse_spec(
        {
            "service": "payment-service",
            "image": "registry.example.com/payments/payment-service",
            "gates": {
                "ci": None,
                "cluster": None,
                "registry": None,
                "backups": None,
                "staging_healthy": False,
                "incidents": {"matchers": ['severity="critical"', 'service="payment-service"']},
            },
        }
    )


def test_critical_alert_fails_preflight_and_silence_clears_it(alertmanager):
    spec = spec_with_incidents_only()
    io = AlertmanagerOnlyIO(alertmanager.url)

    report = run_preflight(spec, "1.2.3", "production", io)
    assert [r.status for r in report.results] == ["pass"]
    assert {name for name, _ in report.skipped} == {
        "ci",
        "staging_healthy",
        "cluster_healthy",
        "registry",
        "backups",
    }

    alertmanager.fire(
        "PaymentsErrorRate", severity="critical", service="payment-service", summary="5xx ratio 12% > 5%"
    )
    alertmanager.fire("DiskAlmostFull", severity="warning", service="billing")  # matches neither matcher
    report = run_preflight(spec, "1.2.3", "production", io)
    [result] = report.failed
    assert result.name == "incidents"
    assert "1 active incident(s): PaymentsErrorRate [critical] since " in result.reason
    assert "5xx ratio 12% > 5%" in result.reason
    assert result.evidence["incidents"][0]["matched"] == ['severity="critical"', 'service="payment-service"']
    assert "PaymentsErrorRate" in report.failure_message()

    alertmanager.silence({"alertname": "PaymentsErrorRate"}, duration=timedelta(minutes=30))
    report = run_preflight(spec, "1.2.3", "production", io)
    assert report.failed == [] and report.results[0].status == "pass"


def test_warning_for_the_service_and_matcher_lists(alertmanager):
    alertmanager.fire("LatencyHigh", severity="warning", service="payment-service", summary="p99 2s")
    session = requests.Session()
    # OR over entries: the service matcher catches the warning
    r = check_incidents(session, alertmanager.url, ['severity="critical"', 'service="payment-service"'])
    assert r.status == "fail" and "LatencyHigh [warning]" in r.reason
    # AND within one entry
    assert check_incidents(
        session, alertmanager.url, ['{severity="critical",service="payment-service"}']
    ).passed
    assert check_incidents(session, alertmanager.url, ['service=~"payment-.*"']).failed


def test_unreachable_alertmanager_is_a_failed_gate_not_a_crash():
    spec = spec_with_incidents_only()
    report = run_preflight(spec, "1.2.3", "production", AlertmanagerOnlyIO("http://127.0.0.1:9"))
    [result] = report.failed
    assert result.name == "incidents" and "check could not run: ConnectionError" in result.reason
