"""Incident matchers are conjunctive, like Alertmanager's filter (issue 11, point 5)."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.checks.incidents import check_incidents, matcher_groups, matches, matches_all
from airlock.spec import SpecError, parse_spec

FLAT = ['severity="critical"', 'service="payment-service"']


def alert(name: str, **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, **labels},
        "annotations": {},
        "startsAt": "2026-01-01T10:00:00Z",
        "fingerprint": name,
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }


class FakeAlertmanager:
    """Answers GET /api/v2/alerts; `honour_filter=False` plays a server (or proxy) that drops `filter`."""

    def __init__(self, alerts: list[dict[str, Any]], honour_filter: bool = True) -> None:
        self.alerts = alerts
        self.honour_filter = honour_filter
        self.queries: list[list[str]] = []

    def request(self, method: str, url: str, params: Any = None, timeout: Any = None) -> Any:
        filters = [v for k, v in params if k == "filter"]
        self.queries.append(filters)
        found = [a for a in self.alerts if not self.honour_filter or matches_all(a, filters)]
        return _Response(found)


class _Response:
    status_code = 200

    def __init__(self, body: Any) -> None:
        self.body = body
        self.ok = True
        self.text = ""

    def json(self) -> Any:
        return self.body


def test_a_flat_list_is_one_conjunctive_group():
    assert matcher_groups(FLAT) == [FLAT]
    # a braced entry joins the same conjunction
    assert matcher_groups(['{severity="critical",team="pay"}', 'env="prod"']) == [
        ['severity="critical"', 'team="pay"', 'env="prod"']
    ]


def test_a_list_of_lists_is_any_of_several_groups():
    assert matcher_groups([['severity="critical"'], ['service="payment-service"', 'env="prod"']]) == [
        ['severity="critical"'],
        ['service="payment-service"', 'env="prod"'],
    ]
    assert matcher_groups([['a="1"'], ['a="1"']]) == [['a="1"']]


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        (['a="1"', ['b="2"']], "not a mix of both"),
        ([], "no matchers"),
        ([[]], "empty matcher group"),
        (["severity critical"], "is not an Alertmanager matcher"),
        ([['ok="1"', "nope"]], "is not an Alertmanager matcher"),
    ],
)
def test_bad_matchers_are_refused(matchers, message):
    with pytest.raises(ValueError, match=message):
        matcher_groups(matchers)


def test_the_spec_accepts_both_forms_and_refuses_bad_matchers_up_front():
    base = {"service": "payment-service", "image": "reg/pay"}
    flat = parse_spec({**base, "gates": {"incidents": {"matchers": FLAT}}})
    assert flat.gates.incidents.matchers == FLAT
    nested = [['severity="critical"'], ['service="payment-service"']]
    assert (
        parse_spec({**base, "gates": {"incidents": {"matchers": nested}}}).gates.incidents.matchers == nested
    )
    with pytest.raises(SpecError, match="gates.incidents.matchers"):
        parse_spec({**base, "gates": {"incidents": {"matchers": ["severity critical"]}}})


@pytest.mark.parametrize(
    ("labels", "matcher", "expected"),
    [
        ({"severity": "critical"}, 'severity="critical"', True),
        ({"severity": "warning"}, 'severity="critical"', False),
        ({}, 'severity=""', True),  # a missing label is the empty string, as in Alertmanager
        ({"severity": "critical"}, 'severity!="critical"', False),
        ({"service": "payment-service"}, 'service=~"payment-.*"', True),
        ({"service": "xpayment-service"}, 'service=~"payment-.*"', False),  # anchored
        ({"service": "payment-service-2"}, 'service=~"payment"', False),  # anchored at the end too
        ({"service": "billing"}, 'service!~"payment-.*"', True),
        ({"msg": 'say "hi"'}, r'msg="say \"hi\""', True),
        ({"team": "pay"}, "team=pay", True),  # unquoted value
    ],
)
def test_one_matcher(labels, matcher, expected):
    assert matches(labels, matcher) is expected


def test_a_critical_alert_of_another_service_does_not_block():
    am = FakeAlertmanager([alert("DiskFull", severity="critical", service="billing")])
    r = check_incidents(am, "http://am", FLAT)
    assert r.passed, r.reason
    assert am.queries == [FLAT], "one query, every matcher a filter of it"
    assert (
        r.reason
        == 'no active, unsilenced alert matches ALL of: severity="critical", service="payment-service"'
    )


def test_a_critical_alert_of_the_service_blocks_and_the_reason_says_all_of():
    am = FakeAlertmanager(
        [
            alert("DiskFull", severity="critical", service="billing"),
            alert("PayDown", severity="critical", service="payment-service"),
        ]
    )
    r = check_incidents(am, "http://am", FLAT)
    assert r.failed
    assert [i["alertname"] for i in r.evidence["incidents"]] == ["PayDown"]
    assert r.reason.endswith('(blocking alerts match ALL of: severity="critical", service="payment-service")')


def test_alerts_returned_despite_the_filter_are_matched_again():
    # a server that ignored `filter` returns every alert: the critical alert of billing still must not block
    am = FakeAlertmanager([alert("DiskFull", severity="critical", service="billing")], honour_filter=False)
    assert check_incidents(am, "http://am", FLAT).passed


def test_groups_are_or_ed():
    am = FakeAlertmanager([alert("LatencyHigh", severity="warning", service="payment-service")])
    nested = [['severity="critical"'], ['service="payment-service"']]
    r = check_incidents(am, "http://am", nested)
    assert r.failed and am.queries == nested
    assert r.evidence["incidents"][0]["matched"] == ['ALL of: service="payment-service"']
    assert '(ALL of: severity="critical") OR (ALL of: service="payment-service")' in r.reason
