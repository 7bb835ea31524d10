"""Run parameters are validated against the spec, listing every problem before any write."""

import pytest

from airlock.request import canary_steps, validate_request
from airlock.spec import SpecError, parse_spec

SPEC = parse_spec(
    {"service": "web", "image": "registry.example/web", "strategy": {"allowed": ["canary", "rolling"]}}
)


def test_defaults_fill_strategy_and_steps() -> None:
    request = validate_request({"version": "v1.2.3"}, SPEC)
    assert request.strategy == "canary"
    assert request.window == "next_window" and request.risk == "planned" and not request.dry_run
    assert canary_steps(request, SPEC) == [10, 25, 50, 100]


def test_steps_override_from_form_text() -> None:
    request = validate_request({"version": "1.2.3", "canary_steps": "20, 60,100"}, SPEC)
    assert canary_steps(request, SPEC) == [20, 60, 100]


def test_every_problem_is_listed_in_one_message() -> None:
    with pytest.raises(SpecError) as err:
        validate_request(
            {
                "version": "latest",
                "strategy": "blue_green",
                "risk": "yolo",
                "canary_steps": "10,5",
                "typo": 1,
            },
            SPEC,
        )
    message = str(err.value)
    assert "nothing was changed" in message
    assert "unknown parameter(s) ['typo']" in message
    assert "field 'risk': value 'yolo': not allowed; allowed values: 'planned' or 'hotfix'" in message
    assert "canary steps [10, 5] must strictly increase" in message


def test_version_pattern_and_allowed_strategy() -> None:
    with pytest.raises(SpecError) as err:
        validate_request({"version": "latest", "strategy": "blue_green"}, SPEC)
    message = str(err.value)
    assert "field 'version': value 'latest': does not match the service's version_pattern" in message
    assert "field 'strategy': value 'blue_green': not allowed for web; allowed: canary, rolling" in message


def test_steps_override_limited_to_spec_slots_and_canary_only() -> None:
    with pytest.raises(SpecError, match="at most 4 steps"):
        validate_request({"version": "v1.0.0", "canary_steps": "5,10,20,40,100"}, SPEC)
    with pytest.raises(SpecError, match="only valid with strategy 'canary'"):
        validate_request({"version": "v1.0.0", "strategy": "rolling", "canary_steps": "50,100"}, SPEC)
