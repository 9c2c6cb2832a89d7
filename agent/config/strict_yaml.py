"""Reading the YAML files an operator writes (site config, web config, profiles, setpoint bounds), strictly.

A file must be UTF-8, may not give a key twice in one mapping (plain YAML keeps the last value
silently), and may not nest deeper than libyaml's 1,000 levels. Every problem is one line naming the
file and, where the parser knows it, the line: ``site.yaml:12: key 'port' given twice (first on line 9)``.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

__all__ = ["ParsedYamlCache", "YamlFileError", "read_yaml"]

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


class ParsedYamlCache:
    """Parsed documents by the BLAKE2b digest of their bytes, kept in one ``marshal`` file between runs.

    Building Python objects from YAML is most of what reading the ~90 shipped profiles costs (about
    0.2 s, more than validating them); a command that detects a device's profile reads them all. A
    document whose bytes are unchanged is taken from here instead: the key is the content, not a time
    stamp, so an edited file is always read again. ``marshal`` holds plain data only (no code runs on
    load); a document with other types (a date) is simply not kept. A cache that cannot be read or
    written is ignored: it only saves time.
    """

    MAX_ENTRIES = 2000

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._entries: dict[bytes, bytes] = {}  # content digest -> the document, marshalled
        self._dirty = False
        if file is not None:
            try:
                loaded = marshal.loads(file.read_bytes())
                if isinstance(loaded, dict):
                    self._entries = loaded
            except (OSError, ValueError, EOFError, TypeError):
                pass

    @staticmethod
    def key(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    def get(self, key: bytes) -> tuple[bool, Any]:
        """(True, a fresh copy of the document) or (False, None)."""
        packed = self._entries.get(key)
        if packed is None:
            return False, None
        try:
            return True, marshal.loads(packed)
        except (ValueError, EOFError, TypeError):
            return False, None

    def put(self, key: bytes, document: Any) -> None:
        try:
            self._entries[key] = marshal.dumps(document)
        except ValueError:  # not plain data
            return
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything was added (all of it again past MAX_ENTRIES: old versions go)."""
        if self._file is None or not self._dirty:
            return
        if len(self._entries) > self.MAX_ENTRIES:
            self._entries = dict(list(self._entries.items())[-self.MAX_ENTRIES // 2 :])
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._file.with_name(f".{self._file.name}.{os.getpid()}")
            tmp.write_bytes(marshal.dumps(self._entries))
            os.replace(tmp, self._file)
            self._dirty = False
        except OSError:
            pass


def read_yaml(path: Path, cache: ParsedYamlCache | None = None) -> Any:
    """The document in ``path`` (None for an empty file); ``cache`` may hold it already.

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
    key = b""
    if cache is not None:
        key = cache.key(data)
        hit, document = cache.get(key)
        if hit:
            return document
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise YamlFileError(f"{where}:{line}: not UTF-8 text (bad byte at offset {err.start})") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
        if cache is not None:
            cache.put(key, document)
        return document
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
