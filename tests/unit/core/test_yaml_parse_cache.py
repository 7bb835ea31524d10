"""The spec parse cache (airlock.yaml_safe): the same bytes give the same data with or without it, a file that
fails is never remembered, only exactly JSON-able data is stored, and only a private directory is used."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from airlock import yaml_safe
from airlock.yaml_safe import SpecYamlError, cache_dir, load_yaml_file

SPEC = "service: a\nreplicas: 3\nratio: 0.5\nflags: [true, null]\nnested: {k: 'v'}\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(yaml_safe.CACHE_ENV, str(tmp_path / "cache"))
    directory = cache_dir()
    assert directory is not None and directory.parent == tmp_path / "cache"
    return directory


def _refuse_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str, source: str) -> Any:
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(yaml_safe, "load_yaml_text", refuse)


def test_the_second_load_of_the_same_bytes_reads_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC)
    first = load_yaml_file(spec)
    assert len(list(cache.glob("*.json"))) == 1
    _refuse_parsing(monkeypatch)
    again = load_yaml_file(spec)
    assert again == first == yaml_safe.yaml.safe_load(SPEC)
    assert type(again["ratio"]) is float and type(again["replicas"]) is int
    assert again is not first  # each load gets its own copy


def test_changed_bytes_are_parsed_again(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC)
    load_yaml_file(spec)
    spec.write_text(SPEC.replace("replicas: 3", "replicas: 4"))
    assert load_yaml_file(spec)["replicas"] == 4


def test_a_refused_file_is_refused_every_time(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "dup.yaml"
    spec.write_text("a: 1\na: 2\n")
    for _ in range(2):
        with pytest.raises(SpecYamlError, match="duplicate key"):
            load_yaml_file(spec)
    assert not list(cache.glob("*.json"))


def test_data_json_would_change_is_not_stored(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "dates.yaml"
    spec.write_text("when: 2026-01-01\n1: int key\n")
    assert load_yaml_file(spec) == {"when": datetime.date(2026, 1, 1), 1: "int key"}
    assert not list(cache.glob("*.json"))
    assert load_yaml_file(spec) == {"when": datetime.date(2026, 1, 1), 1: "int key"}


def test_a_corrupt_entry_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC)
    load_yaml_file(spec)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"dat')
    assert load_yaml_file(spec)["service"] == "a"


def test_a_directory_others_may_write_to_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "shared"
    monkeypatch.setenv(yaml_safe.CACHE_ENV, str(base))
    (base / f"spec-yaml-{yaml_safe._code_version()}").mkdir(parents=True)
    (base / f"spec-yaml-{yaml_safe._code_version()}").chmod(0o777)
    assert cache_dir() is None
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC)
    assert load_yaml_file(spec)["service"] == "a"


def test_off_disables_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(yaml_safe.CACHE_ENV, "off")
    assert cache_dir() is None


def test_the_directory_is_named_after_the_code(cache: Path) -> None:
    # a change of yaml_safe.py or of PyYAML starts an empty cache
    assert cache.name == f"spec-yaml-{yaml_safe._code_version()}"


def test_no_home_directory_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv(yaml_safe.CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    assert cache_dir() is None
