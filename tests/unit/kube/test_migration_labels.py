"""The migration Job's pod labels can never match the Service's selector (issue 11, point 1)."""

from __future__ import annotations

import pytest

from airlock.kube.migration import job_body
from airlock.spec import parse_spec

MIGRATION = {"command": ["migrate", "up"]}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service selects a pod when the pod has every selector label with the same value."""
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    "app_labels",
    [
        None,
        {"app.kubernetes.io/name": "pay", "app.kubernetes.io/part-of": "shop"},
        {"app": "pay", "tier": "web"},
    ],
)
def test_job_pods_match_neither_the_app_nor_a_colour_selector(app_labels):
    kube = {"app_labels": app_labels} if app_labels else {}
    spec = parse_spec({"service": "pay", "image": "reg/pay", "migration": MIGRATION, "kubernetes": kube})
    body = job_body(spec, "v2.0.0")
    pod_labels = body["spec"]["template"]["metadata"]["labels"]
    for selector in (spec.app_labels, {**spec.app_labels, spec.kubernetes.track_label: "green"}):
        assert not _selects(selector, pod_labels), (selector, pod_labels)
    assert not _selects(spec.app_labels, body["metadata"]["labels"])
    assert pod_labels["airlock.io/service"] == "pay" and pod_labels["airlock.io/role"] == "migration"
    assert pod_labels["app.kubernetes.io/managed-by"] == "airlock"


def test_app_labels_that_would_select_the_job_pods_are_refused():
    spec = parse_spec(
        {
            "service": "pay",
            "image": "reg/pay",
            "migration": MIGRATION,
            "kubernetes": {"app_labels": {"app.kubernetes.io/managed-by": "airlock"}},
        }
    )
    with pytest.raises(ValueError, match="would select the migration pods"):
        job_body(spec, "v2")
