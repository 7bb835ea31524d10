"""YAML for service specs: safe types only, no duplicate keys, no aliases, bounded size.

- a duplicate key is an error naming the key and both lines (PyYAML silently keeps the last one);
- aliases are refused: a 521-byte "billion laughs" file expands to hundreds of MB once a consumer
  walks it; a spec never needs them. (Anchors that are never referenced are harmless and ignored -
  libyaml does not report them.)
- a file larger than MAX_SPEC_BYTES is refused before it is read in full or parsed.

libyaml's C parser is used when PyYAML has it (the DAG factory parses every spec at every DAG parse);
the checks live in the (Python) constructor, which both loaders share.
"""

from __future__ import annotations

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


def load_yaml_file(path: str | Path) -> Any:
    """Read (at most MAX_SPEC_BYTES) and parse a spec file."""
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
    return load_yaml_text(text, str(path))
