"""The incidents gate against a real Alertmanager (Debian prometheus-alertmanager)."""

import time
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
    assert result.reason.endswith(
        '(blocking alerts match ALL of: severity="critical", service="payment-service")'
    )
    assert result.evidence["incidents"][0]["matched"] == [
        'ALL of: severity="critical", service="payment-service"'
    ]
    assert "PaymentsErrorRate" in report.failure_message()

    alertmanager.silence({"alertname": "PaymentsErrorRate"}, duration=timedelta(minutes=30))
    report = run_preflight(spec, "1.2.3", "production", io)
    assert report.failed == [] and report.results[0].status == "pass"


def test_warning_for_the_service_and_matcher_lists(alertmanager):
    alertmanager.fire("LatencyHigh", severity="warning", service="payment-service", summary="p99 2s")
    session = requests.Session()
    # a flat list is conjunctive: a warning is not critical, so it does not block
    assert check_incidents(
        session, alertmanager.url, ['severity="critical"', 'service="payment-service"']
    ).passed
    assert check_incidents(
        session, alertmanager.url, ['{severity="critical",service="payment-service"}']
    ).passed
    assert check_incidents(session, alertmanager.url, ['service=~"payment-.*"']).failed
    # a list of lists is any of several conjunctive groups: the service group catches the warning
    r = check_incidents(session, alertmanager.url, [['severity="critical"'], ['service="payment-service"']])
    assert r.status == "fail" and "LatencyHigh [warning]" in r.reason
    assert r.evidence["incidents"][0]["matched"] == ['ALL of: service="payment-service"']


def test_a_critical_alert_of_another_service_does_not_block_payment_service(alertmanager):
    # issue 11 point 5: the documented example used to block on any critical alert anywhere
    session = requests.Session()
    flat = ['severity="critical"', 'service="payment-service"']
    alertmanager.fire("DiskAlmostFull", severity="critical", service="billing", summary="disk 97%")
    wait_for_alerts(alertmanager, 1)
    r = check_incidents(session, alertmanager.url, flat)
    assert r.passed, r.reason
    assert (
        r.reason
        == 'no active, unsilenced alert matches ALL of: severity="critical", service="payment-service"'
    )
    # the same spec through the pre-flight gate
    report = run_preflight(
        spec_with_incidents_only(), "1.2.3", "production", AlertmanagerOnlyIO(alertmanager.url)
    )
    assert report.failed == [], report.failure_message()

    alertmanager.fire("PaymentsDown", severity="critical", service="payment-service", summary="5xx 40%")
    wait_for_alerts(alertmanager, 2)
    r = check_incidents(session, alertmanager.url, flat)
    assert r.failed
    assert [i["alertname"] for i in r.evidence["incidents"]] == ["PaymentsDown"], (
        "billing's alert is not listed"
    )


def wait_for_alerts(alertmanager, count, timeout=10.0):
    """Alertmanager lists a posted alert at once, but be sure the 'does not block' case saw it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if len(alertmanager.alerts(active=True, silenced=False)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"Alertmanager did not list {count} alerts")


def test_unreachable_alertmanager_is_a_failed_gate_not_a_crash():
    spec = spec_with_incidents_only()
    report = run_preflight(spec, "1.2.3", "production", AlertmanagerOnlyIO("http://127.0.0.1:9"))
    [result] = report.failed
    assert result.name == "incidents" and "check could not run: ConnectionError" in result.reason
