"""Label/field selectors and scenario parsing."""

import math

import pytest

from kubesim.scenario import DEFAULT_PROFILE, parse_quantity, parse_scenario
from kubesim.selectors import (
    match_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)


@pytest.mark.parametrize(
    ("sel", "labels", "ok"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app!=web", {"app": "web"}, False),
        ("app!=web", {}, True),
        ("track in (canary, stable)", {"track": "canary"}, True),
        ("track notin (canary)", {"track": "canary"}, False),
        ("track notin (canary)", {}, True),
        ("track", {"track": "x"}, True),
        ("!track", {"track": "x"}, False),
        ("app=web,track in (a,b),!beta", {"app": "web", "track": "b"}, True),
        ("", {"x": "y"}, True),
    ],
)
def test_label_selector(sel, labels, ok):
    assert parse_label_selector(sel)(labels) is ok


def test_label_selector_object_and_string():
    sel = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "track", "operator": "In", "values": ["a"]}],
    }
    assert match_label_selector(sel, {"app": "web", "track": "a"})
    assert not match_label_selector(sel, {"app": "web"})
    assert selector_to_string(sel) == "app=web,track in (a)"


def test_field_selector():
    pred = parse_field_selector("metadata.name=web,status.phase!=Failed")
    assert pred({"metadata": {"name": "web"}, "status": {"phase": "Running"}})
    assert not pred({"metadata": {"name": "web"}, "status": {"phase": "Failed"}})
    assert not pred({"metadata": {"name": "other"}})


def test_scenario_glob_first_match_and_defaults():
    sc = parse_scenario("""
seed: 7
images:
  "registry.example/web:bad": {fail: ImagePullBackOff}
  "registry.example/web:*": {ready_after_seconds: 0.5, error_rate: 0.004, latency_ms: {p50: 40, p95: 120, p99: 200}}
  "registry.example/migrate:*": {complete_after_seconds: 1, exit_code: 0}
services:
  "default/web": {rps: 20}
namespaces: [staging]
nodes: 2
""")
    assert sc.seed == 7
    assert sc.profile_for("registry.example/web:bad").fail == "ImagePullBackOff"
    assert sc.profile_for("registry.example/web:1.0").error_rate == 0.004
    assert sc.profile_for("other:1") == DEFAULT_PROFILE
    assert sc.rps_for("default", "web") == 20
    assert [n.name for n in sc.nodes] == ["kubesim-node-1", "kubesim-node-2"]
    mu, sigma = sc.profile_for("registry.example/web:1").latency_params()
    assert math.exp(mu) == pytest.approx(0.040)
    assert math.exp(mu + 1.6449 * sigma) == pytest.approx(0.120, rel=0.15)


def test_scenario_rejects_unknown_keys():
    with pytest.raises(ValueError):
        parse_scenario({"imagez": {}})
    with pytest.raises(ValueError):
        parse_scenario({"images": {"x": {"fail": "Nope"}}})


def test_quantities():
    assert parse_quantity("500m") == 0.5
    assert parse_quantity("2") == 2
    assert parse_quantity("1Gi") == 1024**3
