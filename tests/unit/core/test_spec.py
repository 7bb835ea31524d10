"""ServiceSpec: defaults, derived names, and errors that name file, field, value and what is allowed."""

from datetime import timedelta
from pathlib import Path

import pytest

from airlock.durations import format_duration, parse_duration
from airlock.spec import SpecError, load_spec, parse_spec, spec_from, spec_to_dict

REPO = Path(__file__).resolve().parents[3]
MINIMAL = {"service": "web", "image": "registry.example/web"}


def test_minimal_spec_gets_defaults_and_derived_names() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.dag_id == "deploy_web"
    assert (spec.deployment, spec.container, spec.k8s_service) == ("web", "web", "web")
    assert spec.app_labels == {"app": "web"}
    assert spec.strategy.canary.steps == [10, 25, 50, 100]
    assert spec.strategy.canary.step_duration == timedelta(minutes=15)
    assert spec.metrics.thresholds.max_error_rate == 0.05
    assert spec.image_ref("v1.2.3") == "registry.example/web:v1.2.3"
    assert spec.environment("staging").namespace == "staging"
    assert spec.connection_for("production") == "kubernetes_default"


def test_round_trip_through_json_dict() -> None:
    spec = load_spec(REPO / "dags" / "services" / "payment-service.yaml")
    assert spec_from(spec_to_dict(spec)) == spec
    assert spec_to_dict(spec)["strategy"]["blue_green"]["keep_old_for"] == "30m"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"strategy": {"default": "canry"}},
            "field 'strategy.default': value 'canry': not allowed; allowed values",
        ),
        (
            {"strategy": {"allowed": ["rolling"], "default": "canary"}},
            "default strategy 'canary' is not in allowed",
        ),
        ({"strategy": {"canary": {"steps": [10, 5, 100]}}}, "must strictly increase"),
        ({"strategy": {"canary": {"steps": [10, 50]}}}, "must end at 100"),
        ({"strategy": {"canary": {"step_duration": "soon"}}}, "'soon' is not a duration"),
        ({"windows": {"timezone": "Mars/Olympus"}}, "'Mars/Olympus' is not an IANA time zone"),
        ({"windows": {"off_peak": ["Someday 01:00-02:00"]}}, "'Someday' is not a day"),
        ({"windows": {"freezes": ["2026-12-31..2026-12-01"]}}, "ends before it starts"),
        (
            {"metrics": {"thresholds": {"max_error_rate": 3}}},
            "field 'metrics.thresholds.max_error_rate': value 3",
        ),
        ({"logs": {"error_patterns": ["(unclosed"]}}, "not a valid regular expression"),
        ({"gates": {"backups": {"max_age": "1h"}}}, "set exactly one of last_success_metric or url"),
        ({"service": "Bad_Name"}, "field 'service': value 'Bad_Name': does not match the required pattern"),
        ({"stratgy": {}}, "field 'stratgy': value {...}: unknown field"),
    ],
)
def test_invalid_specs_name_field_value_and_allowed(patch: dict, expected: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, **patch}, "dags/services/web.yaml")
    message = str(err.value)
    assert message.startswith("dags/services/web.yaml:")
    assert expected in message, message


def test_missing_identity_fields_are_reported_together() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({}, "x.yaml")
    assert "field 'service': value (missing)" in str(err.value)
    assert "field 'image': value (missing)" in str(err.value)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text("service: [unclosed\n")
    with pytest.raises(SpecError, match="svc.yaml: not valid YAML"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), (45, 45)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds  # type: ignore[arg-type]


def test_duration_format_round_trips() -> None:
    for seconds in (5, 90, 900, 5400, 90061):
        assert parse_duration(format_duration(seconds)).total_seconds() == seconds
