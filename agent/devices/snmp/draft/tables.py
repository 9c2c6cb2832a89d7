"""Profile draft: a walk grouped into MIB objects and tables, with index labels and row names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.devices.snmp.draft.classify import classify, split_words
from agent.devices.snmp.mibs import MibNode, MibTree
from agent.devices.snmp.seam import SnmpValue

_GENERIC_WORDS = {
    "status",
    "config",
    "configuration",
    "monitor",
    "entry",
    "table",
    "measurements",
    "index",
    "idx",
    "id",
    "number",
    "num",
    "no",
}


def _label_of(index_name: str) -> str:
    """A label from an INDEX object's name: rPDU2DeviceStatusIndex -> device, st4InputCordIndex -> input_cord."""
    words = split_words(index_name)
    while len(words) > 1 and (re.search(r"\d", words[0]) or (len(words[0]) <= 3 and words[0] not in ("pdu", "ups"))):
        words = words[1:]  # the MIB's prefix (st4, r, pdu2, lgp)
    kept = [w for w in words if w not in _GENERIC_WORDS] or words[:1]
    label = "_".join(kept[-2:])
    return re.sub(r"[^a-z0-9_]", "_", label) or "index"


@dataclass(slots=True)
class Group:
    """Instances of one MIB object (or, without MIBs, one OID minus its last sub-identifier)."""

    node: MibNode | None
    base: str  # scalar OID (without .0) or column OID
    is_column: bool
    rows: dict[tuple[int, ...], SnmpValue] = field(default_factory=dict)


def groups(walk: Mapping[str, SnmpValue], mibs: MibTree) -> list[Group]:
    groups: dict[str, Group] = {}
    for oid in sorted(walk, key=lambda o: tuple(int(p) for p in o.split("."))):
        value = walk[oid]
        found = mibs.object_of(oid) if len(mibs) else None
        if found is not None:
            node, suffix = found
            group = groups.setdefault(node.oid, Group(node, node.oid, node.nodetype == "column"))
        else:
            base, last = oid.rsplit(".", 1)
            suffix = (int(last),)
            group = groups.setdefault(base, Group(None, base, last != "0"))
        group.rows[suffix] = value
    for group in groups.values():  # without MIBs, a lone ".0" is a scalar, anything else a table column
        if group.node is None and set(group.rows) == {(0,)}:
            group.is_column = False
    return list(groups.values())


def row_names(walk: Mapping[str, SnmpValue], group: Group) -> dict[tuple[int, ...], str]:
    """Without MIBs: a string column of the same table naming each row (the first such column)."""
    table = group.base.rsplit(".", 1)[0]
    names: dict[tuple[int, ...], str] = {}
    candidates: dict[str, dict[tuple[int, ...], str]] = {}
    for oid, v in walk.items():
        if not oid.startswith(table + ".") or v.kind != "octets" or not isinstance(v.value, bytes):
            continue
        col, _, rest = oid[len(table) + 1 :].partition(".")
        if not rest:
            continue
        text = v.value.decode("utf-8", "replace").strip()
        if text and re.search(r"[A-Za-z]", text):
            candidates.setdefault(col, {})[tuple(int(p) for p in rest.split("."))] = text
    own = int(group.base.rsplit(".", 1)[1])
    for col, rows in sorted(candidates.items(), key=lambda kv: int(kv[0])):
        if int(col) < own and set(group.rows) <= set(rows):  # values follow the name column
            names = rows
            break
    return names


def mib_row_ids(walk: Mapping[str, SnmpValue], group: Group, mibs: MibTree) -> dict[tuple[int, ...], MibNode]:
    """An OBJECT IDENTIFIER column of the same table whose values name each row (LIEBERT-GP style)."""
    table = group.base.rsplit(".", 1)[0]
    by_col: dict[str, dict[tuple[int, ...], MibNode]] = {}
    for oid, v in walk.items():
        if not oid.startswith(table + ".") or v.kind != "oid" or not isinstance(v.value, str):
            continue
        col, _, rest = oid[len(table) + 1 :].partition(".")
        node = mibs.node(v.value.lstrip("."))
        if node is not None and rest:
            by_col.setdefault(col, {})[tuple(int(p) for p in rest.split("."))] = node
    for _col, rows in sorted(by_col.items(), key=lambda kv: int(kv[0])):
        if set(group.rows) & set(rows):
            return rows
    return {}


def decimals_column(group: Group, mibs: MibTree, walk: Mapping[str, SnmpValue]) -> MibNode | None:
    """A ``*DecimalDigits`` column indexed like this one (Raritan PDU2-MIB keeps it in a config table)."""
    if group.node is None:
        return None
    row = mibs.row_of(group.node)
    if row is None:
        return None
    own = set(split_words(group.node.name)) - {"measurements", "sensor", "value"}
    best: MibNode | None = None
    for oid in walk:
        found = mibs.object_of(oid)
        if found is None:
            continue
        node, suffix = found
        if not node.name.lower().endswith("decimaldigits") or suffix not in group.rows:
            continue
        if set(split_words(node.name)) - {"sensor", "decimal", "digits"} == own:
            return node
        if best is None:
            best = node
    return best


def sensor_type_part(group: Group, mibs: MibTree) -> tuple[int, MibNode] | None:
    """The position and node of an enumerated index part that names sensor types (activePower(5), ...)."""
    if group.node is None:
        return None
    row = mibs.row_of(group.node)
    if row is None:
        return None
    for position, index_name in enumerate(row.indices):
        node = mibs.by_name(index_name)
        if node is None or not node.enum:
            continue
        if sum(classify(name, "") is not None for name in node.enum) >= 2:
            return position, node
    return None


ENUM_UNIT_TEXT = {
    "power": "W",
    "apparent": "VA",
    "energy": "Wh",
    "current": "A",
    "voltage": "V",
    "frequency": "Hz",
    "temperature": "degC",
    "humidity": "%RH",
    "setpoint": "degC",
}


def index_parts(group: Group, node: MibNode | None, mibs: MibTree) -> list[tuple[str, int | None]]:
    length = len(next(iter(group.rows)))
    row = mibs.row_of(node) if node is not None else None
    names = list(row.indices) if row is not None else []
    if len(names) == length:
        labels = [_label_of(n) for n in names]
    else:
        labels = ["index" if length == 1 else f"index{i + 1}" for i in range(length)]
    seen: dict[str, int] = {}
    parts: list[tuple[str, int | None]] = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        parts.append((label if seen[label] == 1 else f"{label}{seen[label]}", None))
    return parts
