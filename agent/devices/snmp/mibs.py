"""MIB definitions for ``pue-agent profile draft``: what each numeric OID is called and what it says.

The runtime never parses MIBs (profiles name numeric OIDs); only the profile generator does, with pysmi,
from the directories a user names (``--mib-dir``). No vendor MIB ships with the agent. Files are found by
the module name on their ``NAME DEFINITIONS ::= BEGIN`` line, whatever the file is called, so a vendor's
``powernet432.mib`` works as it comes.

The SMI base modules (SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF, RFC1155-SMI, RFC-1212, RFC-1215, RFC1213-MIB)
must be present for pysmi to resolve ``enterprises`` and the base types. When the user's directories lack
them, the skeletons below stand in: they are written for this module and hold only what pysmi needs to
compile vendor MIBs (the registration tree down to ``enterprises`` and the base type names), none of the
objects or text of the RFCs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MibNode", "MibTree", "load_mibs"]

log = logging.getLogger(__name__)

_DEFINITIONS_RE = re.compile(rb"^\s*([A-Za-z][A-Za-z0-9-]*)\s+DEFINITIONS\s*::=\s*BEGIN", re.M)

_SMI_TREE = """
org            OBJECT IDENTIFIER ::= { iso 3 }
dod            OBJECT IDENTIFIER ::= { org 6 }
internet       OBJECT IDENTIFIER ::= { dod 1 }
directory      OBJECT IDENTIFIER ::= { internet 1 }
mgmt           OBJECT IDENTIFIER ::= { internet 2 }
mib-2          OBJECT IDENTIFIER ::= { mgmt 1 }
transmission   OBJECT IDENTIFIER ::= { mib-2 10 }
experimental   OBJECT IDENTIFIER ::= { internet 3 }
private        OBJECT IDENTIFIER ::= { internet 4 }
enterprises    OBJECT IDENTIFIER ::= { private 1 }
security       OBJECT IDENTIFIER ::= { internet 5 }
snmpV2         OBJECT IDENTIFIER ::= { internet 6 }
snmpDomains    OBJECT IDENTIFIER ::= { snmpV2 1 }
snmpProxys     OBJECT IDENTIFIER ::= { snmpV2 2 }
snmpModules    OBJECT IDENTIFIER ::= { snmpV2 3 }
"""
_SMI_TYPES = """
Integer32 ::= INTEGER (-2147483648..2147483647)
IpAddress ::= [APPLICATION 0] IMPLICIT OCTET STRING (SIZE (4))
Counter32 ::= [APPLICATION 1] IMPLICIT INTEGER (0..4294967295)
Gauge32 ::= [APPLICATION 2] IMPLICIT INTEGER (0..4294967295)
Unsigned32 ::= [APPLICATION 2] IMPLICIT INTEGER (0..4294967295)
TimeTicks ::= [APPLICATION 3] IMPLICIT INTEGER (0..4294967295)
Opaque ::= [APPLICATION 4] IMPLICIT OCTET STRING
Counter64 ::= [APPLICATION 6] IMPLICIT INTEGER (0..18446744073709551615)
"""
_V1_TYPES = """
NetworkAddress ::= IpAddress
Counter ::= [APPLICATION 1] IMPLICIT INTEGER (0..4294967295)
Gauge ::= [APPLICATION 2] IMPLICIT INTEGER (0..4294967295)
"""
_TC_TYPES = """
DisplayString ::= OCTET STRING (SIZE (0..255))
PhysAddress ::= OCTET STRING
MacAddress ::= OCTET STRING (SIZE (6))
TruthValue ::= INTEGER { true(1), false(2) }
RowStatus ::= INTEGER { active(1), notInService(2), notReady(3), createAndGo(4), createAndWait(5), destroy(6) }
DateAndTime ::= OCTET STRING (SIZE (8 | 11))
TimeStamp ::= TimeTicks
TimeInterval ::= INTEGER (0..2147483647)
AutonomousType ::= OBJECT IDENTIFIER
VariablePointer ::= OBJECT IDENTIFIER
RowPointer ::= OBJECT IDENTIFIER
StorageType ::= INTEGER { other(1), volatile(2), nonVolatile(3), permanent(4), readOnly(5) }
TestAndIncr ::= INTEGER (0..2147483647)
"""


def _module(name: str, imports: str, body: str) -> str:
    return f"{name} DEFINITIONS ::= BEGIN\n{imports}\n{body}\nEND\n"


#: stand-ins for the SMI base modules (see the module docstring)
BASE_MODULES: dict[str, str] = {
    "SNMPv2-SMI": _module("SNMPv2-SMI", "", _SMI_TREE + "zeroDotZero OBJECT IDENTIFIER ::= { 0 0 }\n" + _SMI_TYPES),
    "SNMPv2-TC": _module("SNMPv2-TC", "IMPORTS TimeTicks FROM SNMPv2-SMI;", _TC_TYPES),
    "SNMPv2-CONF": _module("SNMPv2-CONF", "", ""),
    "RFC1155-SMI": _module("RFC1155-SMI", "", _SMI_TREE + _SMI_TYPES + _V1_TYPES),
    "RFC-1212": _module("RFC-1212", "", ""),
    "RFC-1215": _module("RFC-1215", "", ""),
    "RFC1213-MIB": _module(
        "RFC1213-MIB",
        "IMPORTS mib-2 FROM RFC1155-SMI;",
        "DisplayString ::= OCTET STRING (SIZE (0..255))\nPhysAddress ::= OCTET STRING\n"
        "system OBJECT IDENTIFIER ::= { mib-2 1 }\n",
    ),
}


@dataclass(frozen=True, slots=True)
class MibNode:
    """One named node of a MIB, with what the generator reads from it."""

    module: str
    name: str
    oid: str
    nodetype: str  # scalar, column, table, row, node (OBJECT IDENTIFIER / OBJECT-IDENTITY)
    syntax: str = ""  # the SYNTAX's type name (a textual convention's name where one is used)
    base_syntax: str = ""  # the base ASN.1/SMI type behind a textual convention
    units: str = ""
    maxaccess: str = ""
    description: str = ""
    display_hint: str = ""
    enum: Mapping[str, int] = field(default_factory=dict)
    indices: tuple[str, ...] = ()  # rows: the names of their INDEX objects

    @property
    def writable(self) -> bool:
        return self.maxaccess in ("read-write", "read-create")

    @property
    def label(self) -> str:
        return f"{self.module}::{self.name}"


class MibTree:
    """Every node of the compiled MIBs by numeric OID, with longest-prefix lookup of an instance."""

    def __init__(self, nodes: Iterable[MibNode], modules: Sequence[str] = ()) -> None:
        self._by_oid: dict[str, MibNode] = {}
        self._by_name: dict[str, MibNode] = {}
        for node in nodes:
            self._by_oid.setdefault(node.oid, node)
            self._by_name.setdefault(node.name, node)
        self.modules = tuple(modules)

    def __len__(self) -> int:
        return len(self._by_oid)

    def node(self, oid: str) -> MibNode | None:
        return self._by_oid.get(oid)

    def by_name(self, name: str) -> MibNode | None:
        return self._by_name.get(name)

    def object_of(self, instance_oid: str) -> tuple[MibNode, tuple[int, ...]] | None:
        """The scalar or column an instance OID belongs to, and its index sub-identifiers."""
        parts = instance_oid.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            node = self._by_oid.get(".".join(parts[:cut]))
            if node is not None:
                if node.nodetype not in ("scalar", "column"):
                    return None
                return node, tuple(int(p) for p in parts[cut:])
        return None

    def row_of(self, column: MibNode) -> MibNode | None:
        return self._by_oid.get(column.oid.rsplit(".", 1)[0])


def _module_texts(dirs: Iterable[Path]) -> tuple[dict[str, str], dict[str, Path], list[str]]:
    texts: dict[str, str] = {}
    folders: dict[str, Path] = {}
    problems: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: MIB directory not found")
            continue
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            try:
                raw = path.read_bytes()
            except OSError as err:
                problems.append(f"{path}: {err.strerror or err}")
                continue
            match = _DEFINITIONS_RE.search(raw[:20000])
            if match is None:
                continue
            name = match.group(1).decode("ascii")
            if name not in texts:
                texts[name] = raw.decode("utf-8", "replace")
                folders[name] = path.parent
    return texts, folders, problems


#: a directory holding more modules than this is narrowed to the device's vendors (see :func:`load_mibs`)
NARROW_ABOVE = 200
#: standard modules a power device may answer, always compiled when present
STANDARD_MODULES = ("UPS-MIB", "ENTITY-SENSOR-MIB", "ENTITY-MIB")


def _narrowed(texts: Mapping[str, str], folders: Mapping[str, Path], enterprises: Iterable[int]) -> list[str]:
    """Modules worth compiling for a device of these enterprise numbers, in a large MIB collection.

    A module that registers under ``enterprises N`` marks its folder as the vendor's (LibreNMS keeps one
    folder per vendor: mibs/liebert/); every module of such a folder is compiled, and the standard ones.
    """
    numbers = "|".join(str(n) for n in sorted(set(enterprises)))
    if not numbers:
        return [m for m in STANDARD_MODULES if m in texts]
    pattern = re.compile(rf"\{{\s*enterprises\s+({numbers})\b")
    vendor_folders = {folders[name] for name, text in texts.items() if pattern.search(text)}
    return sorted(
        {name for name in texts if folders.get(name) in vendor_folders} | {m for m in STANDARD_MODULES if m in texts}
    )


def _nodes_of(module: str, symbols: Mapping[str, Any], conventions: Mapping[str, Mapping[str, Any]]) -> list[MibNode]:
    nodes: list[MibNode] = []
    for name, sym in symbols.items():
        if not isinstance(sym, dict) or "oid" not in sym:
            continue
        cls = sym.get("class")
        if cls == "objecttype":
            nodetype = str(sym.get("nodetype", "scalar"))
        elif cls in ("objectidentity", "moduleidentity") or cls is None:
            nodetype = "node"
        else:
            continue
        syntax = sym.get("syntax") or {}
        type_name = str(syntax.get("type", ""))
        tc = conventions.get(type_name, {})
        enum = dict((syntax.get("constraints") or {}).get("enumeration") or {})
        if not enum:
            enum = dict(((tc.get("type") or {}).get("constraints") or {}).get("enumeration") or {})
        base = str((tc.get("type") or {}).get("type", type_name)) if tc else type_name
        indices = tuple(str(i.get("object", "")) for i in sym.get("indices", ()) or ())
        nodes.append(
            MibNode(
                module=module,
                name=name,
                oid=str(sym["oid"]),
                nodetype=nodetype,
                syntax=type_name,
                base_syntax=base,
                units=str(sym.get("units", "") or ""),
                maxaccess=str(sym.get("maxaccess", "") or ""),
                description=" ".join(str(sym.get("description", "") or "").split()),
                display_hint=str(tc.get("displayhint", "") or ""),
                enum={str(k): int(v) for k, v in enum.items()},
                indices=indices,
            )
        )
    return nodes


def load_mibs(dirs: Iterable[Path], enterprises: Iterable[int] | None = None) -> tuple[MibTree, list[str]]:
    """Compile the MIB modules found in ``dirs``; return the tree and one line per module that failed.

    A module that does not compile is reported and skipped; the others still count. Given the device's
    ``enterprises`` numbers, a collection of more than :data:`NARROW_ABOVE` modules (LibreNMS's ``mibs/``
    has thousands) is narrowed to the vendors' folders and the standard power modules; the modules they
    import are compiled as needed from the whole collection.
    """
    from pysmi.codegen.jsondoc import JsonCodeGen
    from pysmi.compiler import MibCompiler
    from pysmi.parser.dialect import smi_v1_relaxed
    from pysmi.parser.smi import parserFactory
    from pysmi.reader.callback import CallbackReader
    from pysmi.writer.callback import CallbackWriter

    texts, folders, problems = _module_texts(dirs)
    wanted = sorted(name for name in texts if name not in BASE_MODULES)
    if enterprises is not None and len(wanted) > NARROW_ABOVE:
        wanted = [n for n in _narrowed(texts, folders, enterprises) if n not in BASE_MODULES]
    if not wanted:
        return MibTree(()), problems
    for name, text in BASE_MODULES.items():
        texts.setdefault(name, text)
    compiled: dict[str, dict[str, Any]] = {}

    def read(mibname: str, _ctx: object) -> str:
        return texts.get(mibname, "")

    def write(mibname: str, data: str, _ctx: object) -> None:
        compiled[mibname] = json.loads(data)

    compiler = MibCompiler(parserFactory(**smi_v1_relaxed)(), JsonCodeGen(), CallbackWriter(write))
    compiler.add_sources(CallbackReader(read))
    for name in wanted:  # one at a time: a broken module must not take the others down
        if name in compiled:
            continue
        try:
            status = compiler.compile(name, genTexts=True, textFilter=lambda _sym, text: text)
        except Exception as err:
            problems.append(f"MIB {name}: {err}")
            continue
        for mib, result in status.items():
            if result == "failed" or result == "missing":
                problems.append(f"MIB {mib}: {result} ({getattr(result, 'error', '') or 'see --verbose'})")
    conventions: dict[str, dict[str, Any]] = {}
    for symbols in compiled.values():
        for name, sym in symbols.items():
            if isinstance(sym, dict) and sym.get("class") == "textualconvention":
                conventions.setdefault(name, sym)
    nodes: list[MibNode] = []
    for module, symbols in compiled.items():
        if module not in BASE_MODULES:
            nodes.extend(_nodes_of(module, symbols, conventions))
    return MibTree(nodes, sorted(m for m in compiled if m not in BASE_MODULES)), sorted(set(problems))
