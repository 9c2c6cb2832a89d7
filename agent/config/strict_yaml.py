"""Reading the YAML files an operator writes (site config, web config, profiles, setpoint bounds), strictly.

A file must be UTF-8, may not give a key twice in one mapping (plain YAML keeps the last value
silently), and may not nest deeper than libyaml's 1,000 levels. Every problem is one line naming the
file and, where the parser knows it, the line: ``site.yaml:12: key 'port' given twice (first on line 9)``.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

__all__ = ["YamlFileError", "read_yaml"]

if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader
else:  # libyaml when PyYAML has it: faster on a 40,000-device config, and it bounds the nesting depth itself
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


class YamlFileError(ValueError):
    """A YAML file cannot be read; the message is one line, ``file[:line]: reason``."""


class _StrictLoader(_BaseLoader):
    """SafeLoader that refuses duplicate keys and reports bad dates with their line."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # merge keys (<<) override on purpose; complex keys are refused by the base class
            # a plain string key is its text (no need to build it twice); 1 and 1.0 are the same key
            key = key_node.value if key_node.tag == _STR_TAG else self.construct_object(key_node)
            if key in first_line:
                raise ConstructorError(
                    None, None, f"key {key!r} given twice (first on line {first_line[key]})", key_node.start_mark
                )
            first_line[key] = key_node.start_mark.line + 1
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return mapping

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as err:  # 2026-13-01 matches the timestamp pattern, then datetime refuses it
            raise ConstructorError(None, None, f"not a valid date: {err}", node.start_mark) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def read_yaml(path: Path) -> Any:
    """The document in ``path`` (None for an empty file).

    Raises
    ------
    YamlFileError
        Unreadable file, bytes that are not UTF-8, invalid YAML, a key given twice in one mapping,
        nesting too deep; the message names the file and the line.
    """
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise YamlFileError(f"{where}: cannot read: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise YamlFileError(f"{where}:{line}: not UTF-8 text (bad byte at offset {err.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        if mark is not None:
            at = f":{mark.line + 1}"
        elif isinstance(err, yaml.reader.ReaderError):  # a control character: position counts characters
            at = f":{text.count(chr(10), 0, err.position) + 1}"
        else:
            at = ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise YamlFileError(f"{where}{at}: not valid YAML: {problem}") from None
    except RecursionError:  # only without libyaml, whose parser stops at 1,000 levels by itself
        raise YamlFileError(f"{where}: not valid YAML: nested too deeply") from None
