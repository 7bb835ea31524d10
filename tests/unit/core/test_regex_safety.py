"""Regular expressions from specs must compile and must not backtrack catastrophically."""

from pathlib import Path

import pytest
import yaml

from airlock.regex_safety import UnsafeRegex, check_regex
from airlock.spec import LogScan, ServiceSpec

REPO = Path(__file__).resolve().parents[3]


def _shipped_patterns() -> list[str]:
    patterns = [ServiceSpec.model_fields["version_pattern"].default, *LogScan().error_patterns]
    for path in sorted((REPO / "dags" / "services").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        patterns += [data.get("version_pattern") or "", *(data.get("logs") or {}).get("error_patterns", [])]
    return [p for p in patterns if p]


@pytest.mark.parametrize("pattern", _shipped_patterns())
def test_default_and_example_patterns_pass(pattern: str) -> None:
    check_regex(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"[a-z]+(?:-[a-z]+)*",  # delimited: one way to split
        r"(?:\d{1,3}\.){3}\d{1,3}",
        r"([a-z]+,)*end",
        r"(GET|POST|PUT)+",
        r"(a|ab)+$",  # Python factors the common prefix: a(?:b)?
        r"(?>a+)+b",  # atomic: no backtracking into the group
        r"a*+b",
        r"(\.\d+){0,2}",  # a bounded outer repeat
        r"(?i)(ß|x)+",
    ],
)
def test_safe_patterns_pass(pattern: str) -> None:
    check_regex(pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a+)+$", "nested quantifiers"),
        ("(a*)*", "nested quantifiers"),
        (r"(\w+\s?)*", "nested quantifiers"),
        ("((a)+)*", "nested quantifiers"),
        ("(x+y?){1,50}", "nested quantifiers"),
        (r"(-[a-z-]+)*$", "nested quantifiers"),  # the delimiter can be eaten by the inner repeat
        ("(a|a)*", "alternation"),
        ("(-a|-a)*b", "alternation"),
        (r"^(\d+|\d)+$", "alternation"),
        (r"(ab|a.)+$", "alternation"),
        (r"(?=(a+)+)b", "nested quantifiers"),
    ],
)
def test_catastrophic_patterns_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(UnsafeRegex, match="backtrack catastrophically") as err:
        check_regex(pattern, "logs.error_patterns")
    assert why in str(err.value) and repr(pattern) in str(err.value)


def test_invalid_patterns_name_the_error() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression") as err:
        check_regex("(unclosed")
    assert not isinstance(err.value, UnsafeRegex)
