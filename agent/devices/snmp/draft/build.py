"""Profile draft: from grouped objects to proposed profile objects, device totals and the device kind."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from agent.devices.snmp.draft.classify import (
    NOT_A_MEASUREMENT,
    Guess,
    classify,
    find_scale,
    split_words,
    temperature_quantity,
)
from agent.devices.snmp.draft.model import Draft, DraftObject, ceiling, scale_text, value_number
from agent.devices.snmp.draft.tables import (
    ENUM_UNIT_TEXT,
    Group,
    decimals_column,
    groups,
    index_parts,
    mib_row_ids,
    row_names,
    sensor_type_part,
)
from agent.devices.snmp.draft.walk import SYS_DESCR, SYS_OBJECT_ID, TYPE_BY_KIND
from agent.devices.snmp.mibs import MibNode, MibTree
from agent.devices.snmp.seam import SnmpValue


def draft_profile(walk: Mapping[str, SnmpValue], mibs: MibTree, *, name: str, input_note: str) -> Draft:
    """Propose a profile for the device that answered ``walk`` (see the module docstring)."""
    raw_oid = walk.get(SYS_OBJECT_ID, SnmpValue(SYS_OBJECT_ID, "null", "")).value
    sys_oid = (raw_oid.decode("ascii", "replace") if isinstance(raw_oid, bytes) else str(raw_oid or "")).strip()
    sys_oid = sys_oid.lstrip(".") if re.fullmatch(r"\.?1\.3\.6\.1(\.\d+)+", sys_oid) else ""  # not 0.0 or junk
    raw_descr = walk.get(SYS_DESCR, SnmpValue(SYS_DESCR, "null", b"")).value
    sys_descr = raw_descr.decode("utf-8", "replace") if isinstance(raw_descr, bytes) else str(raw_descr or "")
    objects: list[DraftObject] = []
    skipped: list[str] = []
    claimed_tables: set[str] = set()
    for group in groups(walk, mibs):
        if group.base.startswith("1.3.6.1.2.1.1.") or group.base == "1.3.6.1.2.1.1":
            continue
        numeric = {s: v for s, v in group.rows.items() if value_number(v) is not None}
        if not numeric:
            continue
        group.rows = numeric
        objects.extend(_draft_group(group, walk, mibs, claimed_tables))
    objects = _choose_totals(objects, skipped)
    _distinguish(objects)
    covered = {o.key for o in objects}
    patterns = [line for line in _value_patterns(walk, mibs) if line.split(" ", 1)[0].rsplit(".", 1)[0] not in covered]
    if patterns:
        skipped.append(
            "value patterns in OIDs no MIB named (a mains voltage, a line frequency, a counter): "
            "compare with the device's display"
        )
        skipped.extend(patterns[:40] + ([f"... and {len(patterns) - 40} more"] if len(patterns) > 40 else []))
    used = tuple(sorted({o.source.split("::")[0] for o in objects if "::" in o.source}))
    kind, kind_reason = _guess_kind(objects, sys_descr, used)
    return Draft(name, kind, sys_oid, sys_descr, objects, skipped, used, input_note, kind_reason)


#: (low, high, what it would be) for raw integers: nominal mains voltages +-10 % and line frequencies
_PATTERNS = (
    (99, 132, "voltage_v in V (100/120 V mains)"),
    (198, 254, "voltage_v in V (208-240 V mains)"),
    (342, 440, "voltage_v in V (380-415 V mains)"),
    (1980, 2540, "voltage_v in 0.1 V (208-240 V mains)"),
    (49, 51, "frequency_hz in Hz (50 Hz)"),
    (59, 61, "frequency_hz in Hz (60 Hz)"),
    (495, 505, "frequency_hz in 0.1 Hz (50 Hz)"),
    (595, 605, "frequency_hz in 0.1 Hz (60 Hz)"),
    (4950, 5050, "frequency_hz in 0.01 Hz (50 Hz)"),
    (5950, 6050, "frequency_hz in 0.01 Hz (60 Hz)"),
)


def _value_patterns(walk: Mapping[str, SnmpValue], mibs: MibTree) -> list[str]:
    """Guesses from values alone, for OIDs no MIB names: each a comment line, never an object."""
    lines: list[str] = []
    for oid in sorted(walk, key=lambda o: tuple(int(p) for p in o.split("."))):
        if not oid.startswith("1.3.6.1.4.1.") or (len(mibs) and mibs.object_of(oid) is not None):
            continue
        v = walk[oid]
        number = value_number(v)
        if number is None:
            continue
        if v.kind in ("counter32", "counter64") and number > 1000:
            lines.append(
                f"{oid} = {int(number)} ({v.kind}): a growing counter; energy_j? (unit unknown: Wh, 0.1 kWh, kWh)"
            )
            continue
        for low, high, what in _PATTERNS:
            if low <= number <= high:
                lines.append(f"{oid} = {int(number)} ({v.kind}): {what}?")
                break
    return lines


def _draft_group(
    group: Group, walk: Mapping[str, SnmpValue], mibs: MibTree, claimed_tables: set[str]
) -> list[DraftObject]:
    node = group.node
    first = next(iter(group.rows.values()))
    snmp_type = TYPE_BY_KIND[first.kind]
    if node is not None:
        if set(split_words(node.name)) & NOT_A_MEASUREMENT:
            return []  # thresholds, decimal digits, states, indexes
        sensor_part = sensor_type_part(group, mibs)
        if sensor_part is not None:
            return _draft_sensor_table(group, node, sensor_part, walk, mibs, snmp_type)
        row = mibs.row_of(node) if group.is_column else None
        if node.maxaccess == "not-accessible" or (row is not None and node.name in row.indices):
            return []  # an index, not a measurement
        guess = classify(node.name, f"{node.units} {node.description}")
        if guess is None:
            return []
        row_ids = mib_row_ids(walk, group, mibs) if group.is_column else {}
        if row_ids:
            return _draft_identified_rows(group, node, guess, row_ids, snmp_type)
        return [_one_object(group, node, guess, snmp_type, mibs)]
    # no MIB: the row's own name string, or nothing
    if all(value_number(v) == suffix[-1] for suffix, v in group.rows.items()):
        return []  # an index column (each value its own row number)
    names = row_names(walk, group) if group.is_column else {}
    out: list[DraftObject] = []
    table = group.base.rsplit(".", 1)[0]
    if table in claimed_tables:
        return out  # one value column per named table: the first numeric one after the names
    for suffix, value in group.rows.items():
        label = names.get(suffix)
        if label is None or set(split_words(label)) & {"no", "not", "none", "installed", "na", "unknown", "unused"}:
            continue
        guess = classify(label, "")
        if guess is None or guess.family == "setpoint":
            continue
        obj = _one_object(Group(None, group.base, True, {suffix: value}), None, guess, TYPE_BY_KIND[value.kind], mibs)
        row_id = ".".join(map(str, suffix))
        obj.index = [("", s) for s in suffix]  # this row only
        obj.labels = {"sensor": label[:40], "row": row_id}
        obj.comments = [c for c in obj.comments if not c.startswith("guess: index labels")]
        obj.comments.insert(
            0, f"guess (no MIB): row {row_id} of column {group.base} is named {label!r} in the same table"
        )
        raw = value_number(value) or 0.0
        if guess.family == "temperature" and 100 <= abs(raw) <= 1000:
            obj.scale, obj.samples = 0.1, [raw * 0.1]
            obj.comments.append("guess: a value of 100-1000 read as tenths of a degree")
        obj.source = f"row named {label!r}"
        out.append(obj)
    if out:
        claimed_tables.add(table)
    return out


def _one_object(group: Group, node: MibNode | None, guess: Guess, snmp_type: str, mibs: MibTree) -> DraftObject:
    family = "temperature" if guess.family == "setpoint" else guess.family
    sc = find_scale(family, node)
    src = node.label if node is not None else group.base
    obj = DraftObject(
        guess.quantity,
        snmp_type,
        src,
        scale=sc.scale,
        offset=sc.offset,
        text=f"{node.name} {node.description}" if node is not None else "",
    )
    unit_note = ("" if sc.certain else "guess: ") + sc.reason
    if node is not None:
        obj.comments.append(
            f"{guess.reason} ({'name' if classify(node.name, '') else 'DESCRIPTION/UNITS'} of {node.name}); {unit_note}"
        )
    else:
        obj.comments.append(unit_note)
    writable = node is not None and node.writable
    if guess.family == "setpoint" and group.is_column:
        # a writable setpoint must be a scalar: one object per row seen
        suffix = next(iter(group.rows))
        obj.oid = ".".join([group.base, *map(str, suffix)])
        obj.comments.append(
            f"row {'.'.join(map(str, suffix))} of a table; other rows: "
            f"{', '.join('.'.join(map(str, s)) for s in list(group.rows)[1:]) or 'none'}"
        )
    elif group.is_column:
        obj.column = group.base
        obj.index = index_parts(group, node, mibs)
        if node is None or mibs.row_of(node) is None or len(mibs.row_of(node).indices) != len(obj.index):  # type: ignore[union-attr]
            obj.comments.append("guess: index labels named by position (the MIB does not say)")
    else:
        suffix = next(iter(group.rows))
        obj.oid = ".".join([group.base, *map(str, suffix)])
    if guess.family == "setpoint":
        if writable:
            obj.writable_step = 0.5 if sc.scale < 1 else 1.0
            obj.comments.append(
                "WRITABLE (MAX-ACCESS read-write): fill in min/max from the vendor's manual; "
                "the profile loader refuses .nan bounds, so nothing is ever written unbounded"
            )
        else:
            obj.comments.append("read-only setpoint (not offered for writing)")
    elif writable:
        obj.comments.append("the MIB declares it read-write, but it is a measurement: not offered as writable")
    obj.samples = [(value_number(v) or 0.0) * sc.scale + sc.offset for v in group.rows.values()]
    _bounds(obj)
    return obj


def _bounds(obj: DraftObject) -> None:
    from agent.devices.quantities import GLOSSARY

    q = GLOSSARY[obj.quantity]
    if q.is_power:
        obj.valid_max, why = ceiling(obj.samples)
        obj.comments.append(f"valid_max {why}")
    elif q.kind == "counter":
        obj.valid_min = 0
    elif q.unit == "1":
        obj.valid_min, obj.valid_max = 0, 1
    elif q.unit == "Cel":
        obj.valid_min, obj.valid_max = -40, 100
        obj.comments.append("valid_min/valid_max: guess, a plausible air or water temperature range")
        if any(not -40 <= s <= 100 for s in obj.samples):
            obj.comments.append("values outside -40..100 degC seen: scale wrong, or probes absent (rows refused)")


def _draft_sensor_table(
    group: Group,
    node: MibNode,
    sensor_part: tuple[int, MibNode],
    walk: Mapping[str, SnmpValue],
    mibs: MibTree,
    snmp_type: str,
) -> list[DraftObject]:
    position, type_node = sensor_part
    decimals = decimals_column(group, mibs, walk)
    by_number = {number: name for name, number in type_node.enum.items()}
    out: list[DraftObject] = []
    for number in sorted({suffix[position] for suffix in group.rows}):
        type_name = by_number.get(number)
        guess = classify(type_name or "", "") if type_name else None
        if guess is None or guess.family == "setpoint":
            continue
        rows = {s: v for s, v in group.rows.items() if s[position] == number}
        sub = Group(node, group.base, True, rows)
        family = guess.family
        stand_in = MibNode(node.module, node.name, node.oid, node.nodetype, units=ENUM_UNIT_TEXT[family])
        obj = _one_object(sub, stand_in, guess, TYPE_BY_KIND[next(iter(rows.values())).kind], mibs)
        obj.source = node.label
        parts = index_parts(sub, node, mibs)
        parts[position] = ("", number)
        obj.index = parts
        outlet = "outlet" in split_words(node.name)
        if outlet and obj.quantity == "active_power_w":
            obj.quantity = "outlet_active_power_w"
        if outlet and obj.quantity == "energy_j":
            obj.quantity = "outlet_energy_j"
        obj.comments = [
            f"{type_node.name} = {type_name}({number}) in the index: {guess.reason}; guess: unit "
            f"{ENUM_UNIT_TEXT[family]} (the sensor type's base unit)"
            + ("; decimal digits from the device" if decimals else "")
        ]
        if decimals is not None:
            obj.decimals_column = decimals.oid
            obj.decimals_source = decimals.label
        obj.samples = []
        for suffix, v in rows.items():
            digits = walk.get(f"{decimals.oid}.{'.'.join(map(str, suffix))}") if decimals else None
            div = 10**digits.value if digits is not None and isinstance(digits.value, int) else 1
            obj.samples.append((value_number(v) or 0.0) / div * obj.scale)
        _bounds(obj)
        out.append(obj)
    return out


def _draft_identified_rows(
    group: Group, node: MibNode, column_guess: Guess, row_ids: Mapping[tuple[int, ...], MibNode], snmp_type: str
) -> list[DraftObject]:
    out: list[DraftObject] = []
    used: set[str] = set()
    for suffix, value in group.rows.items():
        ident = row_ids.get(suffix)
        guess = classify(ident.name, "") if ident is not None else None
        setpoint = column_guess.family == "setpoint"
        if guess is None or guess.family not in (column_guess.family, "setpoint", "temperature"):
            continue
        quantity = (
            temperature_quantity(set(split_words(ident.name if ident else "")), setpoint)
            if column_guess.family in ("temperature", "setpoint")
            else guess.quantity
        )
        if setpoint and quantity in used:
            continue
        used.add(quantity)
        sub = Group(node, group.base, not setpoint, {suffix: value})
        g = Guess(column_guess.family, quantity, column_guess.reason)
        obj = _one_object(sub, node, g, snmp_type, MibTree(()))
        if not setpoint:
            obj.index = [("", s) for s in suffix]
            obj.comments = [c for c in obj.comments if not c.startswith("guess: index labels")]
        obj.comments.insert(
            0,
            f"row {'.'.join(map(str, suffix))} is {ident.label if ident else '?'} (the table's "
            f"OBJECT IDENTIFIER column): {quantity}; verify the row on other firmware",
        )
        out.append(obj)
    return out


def _distinguish(objects: Sequence[DraftObject], *, by_phase: bool = True) -> None:
    """Objects of one quantity whose readings would carry the same labels get a label each (no duplicate series)."""
    shapes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[DraftObject]] = {}
    for o in objects:
        shape = (
            o.quantity,
            tuple(f"{k}={v}" for k, v in sorted(o.labels.items())),
            tuple(label for label, equals in o.index if equals is None),
        )
        shapes.setdefault(shape, []).append(o)
    for same in shapes.values():
        if len(same) < 2:
            continue
        for o in same:
            name = o.source.split("::")[-1] if "::" in o.source else o.key  # no MIB: the column's OID
            phase = re.search(r"[lL]N?([1-4])$", name) if by_phase else None
            o.labels = {**o.labels, **({"phase": f"L{phase.group(1)}"} if phase else {"object": name})}
            o.comments.append(f"labels {o.labels}: tells it from the other {o.quantity} objects (guess)")
    if by_phase:
        _distinguish(objects, by_phase=False)  # two L1 objects of one quantity: their names tell them apart


_TOTAL_WORDS = {"total", "sum", "summe", "device", "system", "cord", "inlet", "input", "output", "all"}
SINGLE = ("active_power_w", "energy_j", "apparent_power_va")


def _choose_totals(objects: list[DraftObject], skipped: list[str]) -> list[DraftObject]:
    """Keep one object per device-total quantity (their rows sum to the device total); demote the rest."""
    kept: list[DraftObject] = []
    for quantity in SINGLE:
        candidates = [o for o in objects if o.quantity == quantity]
        if not candidates:
            continue
        for o in candidates:
            words = set(split_words(o.source.split("::")[-1])) | set(split_words(o.text))
            o.score = len(words & _TOTAL_WORDS) - 0.001 * objects.index(o)
        best = max(candidates, key=lambda o: o.score)
        if len(candidates) > 1:
            others = [o for o in candidates if o is not best]
            best.comments.append(
                "guess: chosen as the device total among "
                + ", ".join([best.source, *(o.source for o in others)])
                + " (name says total/sum/device/cord/inlet)"
            )
            for o in others:
                skipped.append(
                    f"{o.key} {o.source}: also looks like {quantity} (scale {scale_text(o.scale)}); "
                    "not used, to avoid counting twice"
                )
        kept.append(best)
    rest = [o for o in objects if o.quantity not in SINGLE]
    writables: set[str] = set()
    for o in rest:
        if o.writable_step is not None:
            if o.quantity in writables:
                o.writable_step = None
                o.comments.append("a second writable object for this quantity: offered read-only")
            writables.add(o.quantity)
    order = {q: i for i, q in enumerate(SINGLE)}
    return sorted(kept, key=lambda o: order[o.quantity]) + rest


def _guess_kind(objects: Sequence[DraftObject], sys_descr: str, modules: Sequence[str]) -> tuple[str, str]:
    quantities = {o.quantity for o in objects}
    text = f"{sys_descr} {' '.join(modules)}".lower()
    if quantities & {"supply_air_setpoint_c", "return_air_setpoint_c", "supply_air_temp_c", "return_air_temp_c"}:
        return "cooling_unit", "supply/return air or setpoints found"
    if "ups" in text or "battery_temp_c" in quantities or "input_active_power_w" in quantities:
        return "ups", "UPS or battery named"
    if "outlet_active_power_w" in quantities or "pdu" in text or "outlet" in text:
        return "pdu", "outlets or 'pdu' named"
    if "energy_j" in quantities or "active_power_w" in quantities:
        return "utility_meter", "power and energy without outlets: a meter? (or a PDU: check)"
    return "environment_sensor", "no power found"
