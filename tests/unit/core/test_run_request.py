"""build_run_request: the one input of every task, resolved once (version, image, steps, who, source)."""

from __future__ import annotations

import pytest

from airlock.run_request import NothingQueued, RunRequest, build_run_request
from airlock.spec import SpecError, parse_spec

SPEC = parse_spec(
    {
        "service": "web",
        "image": "registry.local/web",
        "strategy": {"canary": {"steps": [10, 50, 100]}},
        "windows": {"release_train": "Tue,Thu 02:00"},
    }
)
PLAIN = parse_spec({"service": "web", "image": "registry.local/web"})


def build(conf, spec=PLAIN, **kw):
    return build_run_request(conf, spec, run_id="manual__1", triggered_by="alice", **kw)


def test_manual_run_resolves_image_steps_and_who() -> None:
    request = build({"version": "v1.2.3", "strategy": "canary", "canary_steps": "25,100", "risk": "hotfix"})
    assert request.image == "registry.local/web:v1.2.3"
    assert request.canary_steps == (25, 100) and request.canary_weights == (25,)
    assert request.canary_weight(0) == 25 and request.canary_weight(1) is None
    assert (request.triggered_by, request.source, request.is_hotfix) == ("alice", "manual", True)


def test_spec_steps_are_the_default_and_other_strategies_have_none() -> None:
    assert build({"version": "v1.2.3"}).canary_steps == (10, 25, 50, 100)
    assert build({"version": "v1.2.3", "strategy": "rolling"}).canary_steps == ()


def test_release_train_deploys_the_queued_version() -> None:
    request = build({"version": None, "canary_steps": ""}, SPEC, release_train=True, queued_version="v2.0.0")
    assert (request.version, request.image, request.source) == (
        "v2.0.0",
        "registry.local/web:v2.0.0",
        "release_train",
    )
    assert request.canary_steps == (10, 50, 100)


def test_a_version_in_the_conf_wins_over_the_queue() -> None:
    request = build({"version": "v3.0.0"}, SPEC, release_train=True, queued_version="v2.0.0")
    assert (request.version, request.source) == ("v3.0.0", "manual")


@pytest.mark.parametrize("queued", [None, ""])
def test_release_train_with_nothing_queued_raises_nothing_queued(queued) -> None:
    with pytest.raises(NothingQueued, match="no version is queued"):
        build({}, SPEC, release_train=True, queued_version=queued)


def test_a_queued_version_is_validated_like_any_other() -> None:
    with pytest.raises(SpecError, match="field 'version'"):
        build({}, SPEC, release_train=True, queued_version="latest; rm -rf")


def test_a_manual_run_without_a_version_names_the_field() -> None:
    with pytest.raises(SpecError, match=r"field 'version': value \(missing\)"):
        build({"version": ""})


def test_round_trips_through_xcom_json() -> None:
    import json

    request = build({"version": "v1.2.3", "change_summary": "fix"})
    again = RunRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert again == request


def test_from_dict_refuses_an_incomplete_request() -> None:
    data = build({"version": "v1.2.3"}).to_dict()
    del data["image"]
    with pytest.raises(ValueError, match="missing \\['image'\\]"):
        RunRequest.from_dict(data)
