"""Spec YAML (duplicate keys, aliases, size) and durations (bounded, never an uncaught exception)."""

from datetime import timedelta

import pytest

from airlock.durations import MAX_DURATION, parse_duration
from airlock.yaml_safe import MAX_SPEC_BYTES, SpecYamlError, load_yaml_file, load_yaml_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x 1\nb: *x\n", "aliases"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "aliases"),
        ("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", "duplicate key 'c' at lines 3 and 5"),
        ("1: a\n1: b\n", "duplicate key '1'"),
        ("a: !!binary aGVsbG8=\nb: !custom x\n", "not valid YAML"),
    ],
)
def test_refused_yaml(text: str, expected: str) -> None:
    with pytest.raises(SpecYamlError, match="^f.yaml: ") as err:
        load_yaml_text(text, "f.yaml")
    assert expected in str(err.value)


def test_same_key_in_different_mappings_and_unused_anchor_are_fine() -> None:
    assert load_yaml_text("a: {x: 1}\nb: {x: 2}\nc: &unused 3\n", "f") == {
        "a": {"x": 1},
        "b": {"x": 2},
        "c": 3,
    }


def test_size_limit_is_checked_before_parsing(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("a: 1\n" + "#" * (MAX_SPEC_BYTES - 6) + "\n")
    assert load_yaml_file(path) == {"a": 1}  # exactly the limit
    path.write_text("a: [\n" + "#" * MAX_SPEC_BYTES)  # over it, and not even valid YAML
    with pytest.raises(SpecYamlError, match="larger than 256 KiB"):
        load_yaml_file(path)
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(SpecYamlError, match="not UTF-8"):
        load_yaml_file(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99999999999d", "too long"),
        ("9" * 400 + "s", "not a duration"),
        (1e308, "too long"),
        (float("inf"), "too long"),
        (float("nan"), "not a duration"),
        (-1, "negative"),
        ("-5s", "not a duration"),
        ("", "empty duration"),
        ("5 parsecs", "not a duration"),
        (True, "not a duration"),
        ([1], "not a duration"),
        (timedelta(days=-1), "negative"),
    ],
)
def test_bad_durations_are_value_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)  # type: ignore[arg-type]


def test_durations_parse() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert parse_duration(0) == timedelta(0)  # >= 0 here; spec fields require > 0
    assert parse_duration(f"{MAX_DURATION.days}d") == MAX_DURATION
