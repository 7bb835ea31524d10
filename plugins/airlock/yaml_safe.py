"""YAML for service specs: safe types only, no duplicate keys, no aliases, bounded size.

- a duplicate key is an error naming the key and both lines (PyYAML silently keeps the last one);
- aliases are refused: a 521-byte "billion laughs" file expands to hundreds of MB once a consumer
  walks it; a spec never needs them. (Anchors that are never referenced are harmless and ignored -
  libyaml does not report them.)
- a file larger than MAX_SPEC_BYTES is refused before it is read in full or parsed.

libyaml's C parser is used when PyYAML has it (the DAG factory parses every spec at every DAG parse);
the checks live in the (Python) constructor, which both loaders share.

Parse cache: even so, PyYAML's Python constructor was 0.17 s of a 500-service DagBag parse (8 %), at
every parse of the same unchanged files. A file that parsed is remembered by the SHA-256 of its bytes as
the JSON of what it parsed to (`load_yaml_file`); the next parse of the same bytes reads that instead.
Only the YAML step is skipped: the spec is validated in full every time (airlock.spec), freezes against
that day's date included. Where and why it is safe:
- the entries live in `$AIRLOCK_SPEC_CACHE` (`off` disables it), else `$XDG_CACHE_HOME/airlock` (or
  `~/.cache/airlock`), in a directory named after this file's code and PyYAML's version, so a change of
  either starts an empty one; it is used only when this user owns it and nobody else may write to it
  (an entry is trusted as the parse of its file);
- an entry is written whole to a temporary name and renamed into place (atomic): concurrent processes
  only ever read a complete entry, and two writers of one key write the same bytes;
- only data that JSON gives back exactly (dicts with str keys, lists, str, int, bool, finite floats,
  None) is stored; a file that fails to parse is never stored, so its error is reported every time;
- any problem with the cache (unwritable, corrupt entry) falls back to parsing, as without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_SPEC_BYTES = 256 * 1024

_Base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecYamlError(ValueError):
    """The file is not acceptable YAML for a spec; the message names the line."""


class StrictSafeLoader(_Base):  # type: ignore[misc]
    """SafeLoader (C parser when available) refusing duplicate keys and aliases."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise ConstructorError(
                None,
                None,
                "YAML aliases (*name) are not allowed in a service spec; write the value out "
                f"(the anchored value starts at line {node.start_mark.line + 1})",
                node.start_mark,
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[tuple[str, str], int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} at lines {first_line[key]} and {line}; keep one",
                    key_node.start_mark,
                )
            first_line[key] = line
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document; SpecYamlError naming `source` and the line for anything refused."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecYamlError(
            f"{source}: the file is larger than {MAX_SPEC_BYTES // 1024} KiB; a spec is far smaller"
        )
    try:
        return yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise SpecYamlError(f"{source}: not valid YAML: {exc}") from None


CACHE_ENV = "AIRLOCK_SPEC_CACHE"


@functools.cache
def _code_version() -> str:
    parts = [Path(__file__).read_bytes(), yaml.__version__.encode(), _Base.__name__.encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


@functools.cache
def _private_dir(base: str) -> Path | None:
    directory = Path(base) / f"spec-yaml-{_code_version()}"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = directory.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return directory


def cache_dir() -> Path | None:
    """The parse cache's directory (see the module docstring); None: no cache."""
    configured = os.environ.get(CACHE_ENV, "")
    if configured == "off":
        return None
    if not configured:
        try:
            configured = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "airlock")
        except (RuntimeError, KeyError):  # no home directory (an arbitrary container uid): no cache
            return None
    return _private_dir(configured)


def _json_exact(value: Any) -> bool:
    """Whether json.loads(json.dumps(value)) gives back exactly `value`, types included."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v) for k, v in value.items())
    if kind is list:
        return all(_json_exact(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in (str, int, bool) or value is None


def _cached(directory: Path, key: str) -> tuple[bool, Any]:
    try:
        entry = json.loads((directory / f"{key}.json").read_bytes())
        return True, entry["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return False, None


def _store(directory: Path, key: str, data: Any) -> None:
    if not _json_exact(data):
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"data": data}, handle)
            os.replace(tmp, directory / f"{key}.json")
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # best effort: the next parse parses again


def load_yaml_file(path: str | Path) -> Any:
    """Read (at most MAX_SPEC_BYTES) and parse a spec file (the parse is cached: see the module docstring)."""
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        raise SpecYamlError(
            f"{path}: the file is larger than {MAX_SPEC_BYTES // 1024} KiB; a spec is far smaller"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecYamlError(f"{path}: not UTF-8 text: {exc}") from None
    directory = cache_dir()
    if directory is None:
        return load_yaml_text(text, str(path))
    key = hashlib.sha256(data).hexdigest()
    found, cached = _cached(directory, key)
    if found:
        return cached
    parsed = load_yaml_text(text, str(path))
    _store(directory, key, parsed)
    return parsed
