"""``pue-agent profile draft``: propose a device profile from a walk and the MIBs (our snmp_exporter generator).

Input is a walk, from a live device (:func:`walk_device`) or a ``.snmprec`` recording (:func:`read_snmprec`),
and optionally a :class:`~agent.devices.snmp.mibs.MibTree`. For every numeric object the walk holds, the object's name,
UNITS, DESCRIPTION and DISPLAY-HINT (or, without MIBs, the row's own name strings and the value's SNMP
type) say whether it is a power, energy, temperature, current, voltage, frequency, humidity or setpoint,
and at what scale; tables become index labels, an enumerated index part (a sensor-type column in the
index) becomes one object per type with ``equals``, and an OBJECT IDENTIFIER column naming each row
(resolved through the MIBs) picks the row's quantity. The result is profile YAML with a comment on every
guess; it loads at once, except where a person must decide: writable setpoints carry ``.nan`` bounds, which
the profile loader refuses until they are filled in.

Example::

    >>> walk = read_snmprec(Path("janitza.snmprec"))
    >>> text = render_profile(draft_profile(walk, mibs, name="my-meter"))

One module (over 400 lines, to be split): the classifier, the scale rules and the YAML writer grew together
in the fleet work and share their candidate types; splitting them is the next step for this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.devices.snmp.mibs import MibNode, MibTree
from agent.devices.snmp.seam import SnmpClient, SnmpTarget, SnmpValue
from agent.errors import UsageError

__all__ = [
    "Draft",
    "DraftObject",
    "draft_profile",
    "read_snmprec",
    "render_profile",
    "walk_device",
    "write_draft",
]

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

#: what a live draft walks: the system group, the standard power MIBs and every vendor's subtree
WALK_ROOTS = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.33", "1.3.6.1.2.1.99", "1.3.6.1.4.1")

_KIND_BY_TAG = {
    "2": "integer",
    "4": "octets",
    "4x": "octets",
    "5": "null",
    "6": "oid",
    "64": "ipaddress",
    "65": "counter32",
    "66": "gauge32",
    "67": "timeticks",
    "70": "counter64",
}
_TYPE_BY_KIND = {"integer": "integer", "gauge32": "gauge32", "counter32": "counter32", "counter64": "counter64"}


# --- input -------------------------------------------------------------------------------------
def read_snmprec(path: Path) -> dict[str, SnmpValue]:
    """OID -> value for every line of an snmpsim recording (``OID|TAG|VALUE``)."""
    values: dict[str, SnmpValue] = {}
    last: SnmpValue | None = None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror or err}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            oid, tag, raw = line.split("|", 2)
        except ValueError:
            if last is not None and last.kind == "octets" and isinstance(last.value, bytes):
                last = values[last.oid] = SnmpValue(last.oid, "octets", last.value + b"\n" + line.encode("utf-8"))
                continue  # a string value with a line break in it
            raise UsageError(f"{path}:{number}: not an OID|TAG|VALUE line") from None
        oid = oid.strip().lstrip(".")
        kind = _KIND_BY_TAG.get(tag.split(":", 1)[0])
        if kind is None:
            continue  # snmpsim variation modules and exotic tags: nothing a profile reads
        value: int | bytes | str | None
        try:
            if tag == "4x":
                value = bytes.fromhex(raw)
            elif kind == "octets":
                value = raw.encode("utf-8")
            elif kind in ("oid", "ipaddress"):
                value = raw
            elif kind == "null":
                value = None
            else:
                value = int(raw)
        except ValueError:
            raise UsageError(f"{path}:{number}: bad {kind} value {raw[:40]!r}") from None
        last = values[oid] = SnmpValue(oid, kind, value)  # type: ignore[arg-type]
    if not values:
        raise UsageError(f"{path}: no OID|TAG|VALUE lines")
    return values


async def walk_device(client: SnmpClient, target: SnmpTarget) -> dict[str, SnmpValue]:
    """Walk what a draft needs from a live device (:data:`WALK_ROOTS`)."""
    walked = await client.walk(target, WALK_ROOTS, 25)
    values = {v.oid: v for column in walked.values() for v in column if not v.missing}
    for v in await client.get(target, [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]):
        if not v.missing:
            values[v.oid] = v
    return values


# --- what a name or text says -------------------------------------------------------------------
def _words(text: str) -> list[str]:
    """``rPDU2DeviceStatusPower`` -> r, pdu2, device, status, power (camelCase, digits kept)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


_NOT_A_MEASUREMENT = {
    "threshold",
    "thresh",
    "alarm",
    "limit",
    "hysteresis",
    "warning",
    "warn",
    "critical",
    "crit",
    "high",
    "low",
    "min",
    "max",
    "minimum",
    "maximum",
    "rating",
    "rated",
    "nominal",
    "capacity",
    "peak",
    "delay",
    "config",
    "index",
    "idx",
    "count",
    "number",
    "state",
    "start",
    "time",
    "date",
    "reset",
    "enable",
    "enabled",
    "type",
    "units",
    "unit",
    "scale",
    "digits",
    "decimal",
    "resolution",
    "accuracy",
    "tolerance",
    "id",
    "avg",
    "average",
    "log",
    "reactive",
    "reaktiv",
    "reaktive",
    "factor",
    "pf",
    "cos",
    "thd",
    "harmonic",
    "balance",
    "unbalance",
    "status2",
    "mode",
    "setting",
    "settings",
    "offset",
    "deadband",
    "band",
    "calibration",
    "name",
    "label",
    "descr",
}


@dataclass(frozen=True, slots=True)
class Guess:
    """What one object measures: quantity family, canonical quantity, and why."""

    family: str  # power, energy, apparent, current, voltage, frequency, temperature, humidity, setpoint
    quantity: str
    reason: str


def _temperature_quantity(words: set[str], setpoint: bool) -> str:
    if setpoint:
        if "return" in words:
            return "return_air_setpoint_c"
        if "inlet" in words or "rack" in words:
            return "rack_inlet_setpoint_c"
        if "water" in words or "chw" in words:
            return "chw_supply_setpoint_c"
        return "supply_air_setpoint_c"
    if "battery" in words or "batt" in words:
        return "battery_temp_c"
    if "dew" in words or "dewpoint" in words:
        return "dew_point_c"
    if ("water" in words or "chw" in words) and "return" in words:
        return "chw_return_temp_c"
    if "water" in words or "chw" in words:
        return "chw_supply_temp_c"
    if "supply" in words or "discharge" in words:
        return "supply_air_temp_c"
    if "return" in words or "intake" in words:
        return "return_air_temp_c"
    if "outdoor" in words or "outside" in words:
        return "outdoor_temp_c"
    if "inlet" in words:
        return "rack_inlet_temp_c"
    if "exhaust" in words:
        return "rack_outlet_temp_c"
    return "ambient_temp_c"


def classify(name: str, text: str) -> Guess | None:
    """Quantity a name (MIB object name or row label) and its text (UNITS, DESCRIPTION) point to, or None.

    The name decides first (st4InputCordFrequency is a frequency though its DESCRIPTION says "voltage");
    UNITS and DESCRIPTION only where the name says nothing.
    """
    return _classify(name, "") or (_classify(name, text) if text.strip() else None)


def _classify(name: str, text: str) -> Guess | None:
    name_words = set(_words(name))
    words = name_words | set(_words(text))
    lowered = f"{name} {text}".lower()
    setpoint = bool({"setpoint", "setpt", "sp"} & name_words) or "set point" in lowered or "setpoint" in lowered
    if name_words & _NOT_A_MEASUREMENT and not setpoint:
        return None
    if words & {"reactive", "reaktiv", "reaktive", "kvarh", "varh", "kvar", "var"}:
        return None
    per_phase = bool(
        name_words & {"phase", "l1", "l2", "l3", "l4", "line", "pole"} or re.search(r"l[1-4]\b", name.lower())
    )
    temperature = bool({"temp", "temperature", "celsius", "degc", "fahrenheit"} & words) or "deg c" in lowered
    if setpoint:
        if temperature:
            return Guess("setpoint", _temperature_quantity(words, True), "name says a temperature setpoint")
        return None
    if {"humidity", "humid", "rh"} & name_words or ("humidity" in lowered and "temp" not in name_words):
        return Guess("humidity", "relative_humidity_ratio", "humidity")
    if temperature:
        return Guess("temperature", _temperature_quantity(words, False), "temperature")
    if {"energy", "energie", "kwh", "wh", "consumption"} & name_words or re.search(r"\bk?wh\b|watt-?hour", lowered):
        if "outlet" in words:
            return Guess("energy", "outlet_energy_j", "outlet energy")
        if per_phase:
            return None  # no per-phase energy quantity: the device total is what counts
        return Guess("energy", "energy_j", "active energy")
    if "apparent" in words or (re.search(r"\bk?va\b|volt-?amp", lowered) and "power" in words):
        if per_phase or "outlet" in words:
            return None  # apparent power is read as a device total only
        return Guess("apparent", "apparent_power_va", "apparent power (VA)")
    if {"power", "watts", "watt", "kw", "leistung"} & name_words or re.search(r"(active|real) power", lowered):
        if "outlet" in words:
            return Guess("power", "outlet_active_power_w", "outlet power")
        if per_phase:
            return Guess("power", "phase_active_power_w", "per-phase power")
        if {"input", "inputs"} & name_words and ("ups" in words or "battery" in words):
            return Guess("power", "input_active_power_w", "UPS input power")
        return Guess("power", "active_power_w", "active power")
    if (
        {"current", "amps", "amperes", "ampere", "load"} & name_words
        or ("current" in words and re.search(r"\bm?a\b|\d\s?m?a\b|amp", lowered))
    ) and "power" not in words:
        if "load" in name_words and not (
            {"amps", "amperes", "ampere", "current"} & words or re.search(r"\bm?a\b|\bamp", lowered)
        ):
            return None
        return Guess("current", "current_a", "current")
    if (
        {"voltage", "volts", "volt", "spannung"} & name_words
        or (name_words & {"u", "uln1", "uln2", "uln3"})
        or re.search(r"\bvoltage\b", lowered)
    ):
        return Guess("voltage", "voltage_v", "voltage")
    if {"frequency", "freq", "frequenz", "hz"} & words:
        return Guess("frequency", "frequency_hz", "frequency")
    return None


# --- scale ------------------------------------------------------------------------------------
_MULTIPLIER_WORDS = [
    (r"tenths? of (?:a |an )?", 0.1),
    (r"hundredths? of (?:a |an )?", 0.01),
    (r"thousandths? of (?:a |an )?", 0.001),
    (r"tenth ", 0.1),
    (r"hundredth ", 0.01),
    (r"1/10 ?", 0.1),
    (r"1/100 ?", 0.01),
    (r"1/1000 ?", 0.001),
]
#: per family: (regex of a unit, factor to the canonical unit); first match wins, so longer units first
_UNITS: dict[str, list[tuple[str, float]]] = {
    "power": [(r"kilo ?watts?|kw", 1e3), (r"watts?|w", 1.0)],
    "apparent": [(r"kilo ?volt-?amp(?:ere)?s?|kva", 1e3), (r"volt-?amp(?:ere)?s?|va", 1.0)],
    "energy": [
        (r"mega ?watt-? ?hours?|mwh", 3.6e9),
        (r"kilo ?watt-? ?hours?|kwh", 3.6e6),
        (r"watt-? ?hours?|wh", 3600.0),
        (r"kilo ?joules?|kj", 1e3),
        (r"joules?|j", 1.0),
    ],
    "current": [(r"milli ?amp(?:ere)?s?|ma", 1e-3), (r"amp(?:ere)?s?|a", 1.0)],
    "voltage": [(r"milli ?volts?|mv", 1e-3), (r"volts?|v", 1.0)],
    "frequency": [(r"hertz|hz", 1.0)],
    "temperature": [(r"degrees? ?c(?:elsius)?|deg ?c|celsius|°c|c", 1.0), (r"degrees?", 1.0)],
    "humidity": [(r"%\s?rh|percentage|percent|%|rh", 0.01)],
}
_UNITS["setpoint"] = _UNITS["temperature"]
_CANONICAL = {
    "power": "W",
    "apparent": "VA",
    "energy": "J",
    "current": "A",
    "voltage": "V",
    "frequency": "Hz",
    "temperature": "degC",
    "setpoint": "degC",
    "humidity": "ratio (0-1)",
}
_NUMBER = r"(?P<num>\d*[.,]\d+|\d+)"


@dataclass(frozen=True, slots=True)
class Scale:
    scale: float
    offset: float
    reason: str
    certain: bool  # stated by the MIB (UNITS, DESCRIPTION, DISPLAY-HINT) rather than assumed


def _find_unit(family: str, text: str) -> tuple[float, str] | None:
    """(factor to the canonical unit, matched text) of the first unit of ``family`` named in ``text``."""
    low = text.lower().replace("°", "°")
    if family in ("temperature", "setpoint") and re.search(r"fahrenheit|deg(?:rees?)? ?f\b", low):
        return -1.0, "degF"  # marker: handled by the caller
    for unit_re, factor in _UNITS[family]:
        for mult_re, mult in _MULTIPLIER_WORDS:
            m = re.search(rf"(?<![a-z0-9])(?:{mult_re})(?:{unit_re})(?![a-z])", low)
            if m:
                return factor * mult, m.group(0)
        m = re.search(rf"(?:(?<![a-z0-9.]){_NUMBER}\s*)?(?<![a-z])(?:{unit_re})(?![a-z])", low)
        if m:
            num = float("0" + m.group("num").replace(",", ".")) if m.group("num") else 1.0
            if (
                family in ("temperature", "setpoint")
                and unit_re.endswith("|c")
                and m.group(0).strip() == "c"
                and "temp" not in low
            ):
                continue
            return factor * num, m.group(0).strip()
    return None


def find_scale(family: str, node: MibNode | None) -> Scale:
    """Scale from the raw number to the canonical unit, from UNITS, then DESCRIPTION, then DISPLAY-HINT."""
    hint_mult = 1.0
    hint = ""
    if node is not None:
        m = re.fullmatch(r"d-(\d+)", node.display_hint.strip())
        if m:
            hint_mult = 10.0 ** -int(m.group(1))
            hint = f"DISPLAY-HINT {node.display_hint!r}"
    sources = [] if node is None else [("UNITS", node.units), ("DESCRIPTION", node.description)]
    for where, text in sources:
        if not text:
            continue
        found = _find_unit(family, text)
        if found is None:
            continue
        factor, said = found
        if factor == -1.0:  # degrees Fahrenheit (possibly in tenths)
            mult = 0.1 if re.search(r"tenths?", text.lower()) else hint_mult
            return Scale(mult * 5 / 9, -32 * 5 / 9, f"{where} says {said}: converted to degC", True)
        if hint and not re.search(r"\d|tenth|hundredth|thousandth", said):  # a plain unit + a d-N hint
            factor *= hint_mult
            return Scale(factor, 0.0, f"{where} says {said!r}, {hint}", True)
        return Scale(factor, 0.0, f"{where} says {said!r}", True)
    base = _UNITS[family][-1][1]
    if hint:
        return Scale(base * hint_mult, 0.0, f"{hint}, unit assumed {_CANONICAL[family]}", False)
    return Scale(base, 0.0, f"no unit stated: assumed {_CANONICAL[family]}, check", False)


# --- the draft -------------------------------------------------------------------------------
@dataclass(slots=True)
class DraftObject:
    """One proposed profile object and the comments that go with it."""

    quantity: str
    type: str
    source: str  # MIB::name, or a description of where it was found
    oid: str | None = None
    column: str | None = None
    index: list[tuple[str, int | None]] = field(default_factory=list)  # (label, None) or ("", equals)
    labels: dict[str, str] = field(default_factory=dict)
    scale: float = 1.0
    offset: float = 0.0
    decimals_column: str | None = None
    decimals_source: str = ""
    valid_min: float | None = None
    valid_max: float | None = None
    writable_step: float | None = None
    optional: bool = False
    comments: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # canonical values seen in the walk
    score: float = 0.0  # preference among candidates for one device total
    text: str = ""  # name and DESCRIPTION, for choosing among candidates

    @property
    def key(self) -> str:
        return self.oid or self.column or ""


@dataclass(slots=True)
class Draft:
    name: str
    kind: str
    sys_object_id: str
    sys_descr: str
    objects: list[DraftObject]
    skipped: list[str]  # candidates not used, each a comment line
    mib_modules: tuple[str, ...]  # the MIB modules that named an object of the draft
    input_note: str
    kind_reason: str
    notes: list[str] = field(default_factory=list)


def _value_number(v: SnmpValue) -> float | None:
    if v.kind in _TYPE_BY_KIND and isinstance(v.value, int):
        return float(v.value)
    return None


def _fmt(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def _scale_text(scale: float) -> str:
    return _fmt(round(scale, 12))


def _ceiling(samples: Sequence[float]) -> tuple[float, str]:
    seen = max((abs(s) for s in samples), default=0.0)
    guess = max(10 * seen, 10000.0)
    magnitude = 10 ** math.floor(math.log10(guess))
    ceiling = math.ceil(guess / magnitude) * magnitude
    return ceiling, (
        f"guess: 10x the largest value seen ({_fmt(round(seen, 3))}), at least 10 kW; set the device's rating"
    )


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
    words = _words(index_name)
    while len(words) > 1 and (re.search(r"\d", words[0]) or (len(words[0]) <= 3 and words[0] not in ("pdu", "ups"))):
        words = words[1:]  # the MIB's prefix (st4, r, pdu2, lgp)
    kept = [w for w in words if w not in _GENERIC_WORDS] or words[:1]
    label = "_".join(kept[-2:])
    return re.sub(r"[^a-z0-9_]", "_", label) or "index"


@dataclass(slots=True)
class _Group:
    """Instances of one MIB object (or, without MIBs, one OID minus its last sub-identifier)."""

    node: MibNode | None
    base: str  # scalar OID (without .0) or column OID
    is_column: bool
    rows: dict[tuple[int, ...], SnmpValue] = field(default_factory=dict)


def _groups(walk: Mapping[str, SnmpValue], mibs: MibTree) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for oid in sorted(walk, key=lambda o: tuple(int(p) for p in o.split("."))):
        value = walk[oid]
        found = mibs.object_of(oid) if len(mibs) else None
        if found is not None:
            node, suffix = found
            group = groups.setdefault(node.oid, _Group(node, node.oid, node.nodetype == "column"))
        else:
            base, last = oid.rsplit(".", 1)
            suffix = (int(last),)
            group = groups.setdefault(base, _Group(None, base, last != "0"))
        group.rows[suffix] = value
    for group in groups.values():  # without MIBs, a lone ".0" is a scalar, anything else a table column
        if group.node is None and set(group.rows) == {(0,)}:
            group.is_column = False
    return list(groups.values())


def _row_names(walk: Mapping[str, SnmpValue], group: _Group) -> dict[tuple[int, ...], str]:
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


def _mib_row_ids(walk: Mapping[str, SnmpValue], group: _Group, mibs: MibTree) -> dict[tuple[int, ...], MibNode]:
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


def _decimals_column(group: _Group, mibs: MibTree, walk: Mapping[str, SnmpValue]) -> MibNode | None:
    """A ``*DecimalDigits`` column indexed like this one (Raritan PDU2-MIB keeps it in a config table)."""
    if group.node is None:
        return None
    row = mibs.row_of(group.node)
    if row is None:
        return None
    own = set(_words(group.node.name)) - {"measurements", "sensor", "value"}
    best: MibNode | None = None
    for oid in walk:
        found = mibs.object_of(oid)
        if found is None:
            continue
        node, suffix = found
        if not node.name.lower().endswith("decimaldigits") or suffix not in group.rows:
            continue
        if set(_words(node.name)) - {"sensor", "decimal", "digits"} == own:
            return node
        if best is None:
            best = node
    return best


def _sensor_type_part(group: _Group, mibs: MibTree) -> tuple[int, MibNode] | None:
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


_ENUM_UNIT_TEXT = {
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
    for group in _groups(walk, mibs):
        if group.base.startswith("1.3.6.1.2.1.1.") or group.base == "1.3.6.1.2.1.1":
            continue
        numeric = {s: v for s, v in group.rows.items() if _value_number(v) is not None}
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
        number = _value_number(v)
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
    group: _Group, walk: Mapping[str, SnmpValue], mibs: MibTree, claimed_tables: set[str]
) -> list[DraftObject]:
    node = group.node
    first = next(iter(group.rows.values()))
    snmp_type = _TYPE_BY_KIND[first.kind]
    if node is not None:
        if set(_words(node.name)) & _NOT_A_MEASUREMENT:
            return []  # thresholds, decimal digits, states, indexes
        sensor_part = _sensor_type_part(group, mibs)
        if sensor_part is not None:
            return _draft_sensor_table(group, node, sensor_part, walk, mibs, snmp_type)
        row = mibs.row_of(node) if group.is_column else None
        if node.maxaccess == "not-accessible" or (row is not None and node.name in row.indices):
            return []  # an index, not a measurement
        guess = classify(node.name, f"{node.units} {node.description}")
        if guess is None:
            return []
        row_ids = _mib_row_ids(walk, group, mibs) if group.is_column else {}
        if row_ids:
            return _draft_identified_rows(group, node, guess, row_ids, snmp_type)
        return [_one_object(group, node, guess, snmp_type, mibs)]
    # no MIB: the row's own name string, or nothing
    if all(_value_number(v) == suffix[-1] for suffix, v in group.rows.items()):
        return []  # an index column (each value its own row number)
    names = _row_names(walk, group) if group.is_column else {}
    out: list[DraftObject] = []
    table = group.base.rsplit(".", 1)[0]
    if table in claimed_tables:
        return out  # one value column per named table: the first numeric one after the names
    for suffix, value in group.rows.items():
        label = names.get(suffix)
        if label is None or set(_words(label)) & {"no", "not", "none", "installed", "na", "unknown", "unused"}:
            continue
        guess = classify(label, "")
        if guess is None or guess.family == "setpoint":
            continue
        obj = _one_object(_Group(None, group.base, True, {suffix: value}), None, guess, _TYPE_BY_KIND[value.kind], mibs)
        row_id = ".".join(map(str, suffix))
        obj.index = [("", s) for s in suffix]  # this row only
        obj.labels = {"sensor": label[:40], "row": row_id}
        obj.comments = [c for c in obj.comments if not c.startswith("guess: index labels")]
        obj.comments.insert(
            0, f"guess (no MIB): row {row_id} of column {group.base} is named {label!r} in the same table"
        )
        raw = _value_number(value) or 0.0
        if guess.family == "temperature" and 100 <= abs(raw) <= 1000:
            obj.scale, obj.samples = 0.1, [raw * 0.1]
            obj.comments.append("guess: a value of 100-1000 read as tenths of a degree")
        obj.source = f"row named {label!r}"
        out.append(obj)
    if out:
        claimed_tables.add(table)
    return out


def _index_parts(group: _Group, node: MibNode | None, mibs: MibTree) -> list[tuple[str, int | None]]:
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


def _one_object(group: _Group, node: MibNode | None, guess: Guess, snmp_type: str, mibs: MibTree) -> DraftObject:
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
        obj.index = _index_parts(group, node, mibs)
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
    obj.samples = [(_value_number(v) or 0.0) * sc.scale + sc.offset for v in group.rows.values()]
    _bounds(obj)
    return obj


def _bounds(obj: DraftObject) -> None:
    from agent.devices.quantities import GLOSSARY

    q = GLOSSARY[obj.quantity]
    if q.is_power:
        obj.valid_max, why = _ceiling(obj.samples)
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
    group: _Group,
    node: MibNode,
    sensor_part: tuple[int, MibNode],
    walk: Mapping[str, SnmpValue],
    mibs: MibTree,
    snmp_type: str,
) -> list[DraftObject]:
    position, type_node = sensor_part
    decimals = _decimals_column(group, mibs, walk)
    by_number = {number: name for name, number in type_node.enum.items()}
    out: list[DraftObject] = []
    for number in sorted({suffix[position] for suffix in group.rows}):
        type_name = by_number.get(number)
        guess = classify(type_name or "", "") if type_name else None
        if guess is None or guess.family == "setpoint":
            continue
        rows = {s: v for s, v in group.rows.items() if s[position] == number}
        sub = _Group(node, group.base, True, rows)
        family = guess.family
        stand_in = MibNode(node.module, node.name, node.oid, node.nodetype, units=_ENUM_UNIT_TEXT[family])
        obj = _one_object(sub, stand_in, guess, _TYPE_BY_KIND[next(iter(rows.values())).kind], mibs)
        obj.source = node.label
        parts = _index_parts(sub, node, mibs)
        parts[position] = ("", number)
        obj.index = parts
        outlet = "outlet" in _words(node.name)
        if outlet and obj.quantity == "active_power_w":
            obj.quantity = "outlet_active_power_w"
        if outlet and obj.quantity == "energy_j":
            obj.quantity = "outlet_energy_j"
        obj.comments = [
            f"{type_node.name} = {type_name}({number}) in the index: {guess.reason}; guess: unit "
            f"{_ENUM_UNIT_TEXT[family]} (the sensor type's base unit)"
            + ("; decimal digits from the device" if decimals else "")
        ]
        if decimals is not None:
            obj.decimals_column = decimals.oid
            obj.decimals_source = decimals.label
        obj.samples = []
        for suffix, v in rows.items():
            digits = walk.get(f"{decimals.oid}.{'.'.join(map(str, suffix))}") if decimals else None
            div = 10**digits.value if digits is not None and isinstance(digits.value, int) else 1
            obj.samples.append((_value_number(v) or 0.0) / div * obj.scale)
        _bounds(obj)
        out.append(obj)
    return out


def _draft_identified_rows(
    group: _Group, node: MibNode, column_guess: Guess, row_ids: Mapping[tuple[int, ...], MibNode], snmp_type: str
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
            _temperature_quantity(set(_words(ident.name if ident else "")), setpoint)
            if column_guess.family in ("temperature", "setpoint")
            else guess.quantity
        )
        if setpoint and quantity in used:
            continue
        used.add(quantity)
        sub = _Group(node, group.base, not setpoint, {suffix: value})
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
_SINGLE = ("active_power_w", "energy_j", "apparent_power_va")


def _choose_totals(objects: list[DraftObject], skipped: list[str]) -> list[DraftObject]:
    """Keep one object per device-total quantity (their rows sum to the device total); demote the rest."""
    kept: list[DraftObject] = []
    for quantity in _SINGLE:
        candidates = [o for o in objects if o.quantity == quantity]
        if not candidates:
            continue
        for o in candidates:
            words = set(_words(o.source.split("::")[-1])) | set(_words(o.text))
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
                    f"{o.key} {o.source}: also looks like {quantity} (scale {_scale_text(o.scale)}); "
                    "not used, to avoid counting twice"
                )
        kept.append(best)
    rest = [o for o in objects if o.quantity not in _SINGLE]
    writables: set[str] = set()
    for o in rest:
        if o.writable_step is not None:
            if o.quantity in writables:
                o.writable_step = None
                o.comments.append("a second writable object for this quantity: offered read-only")
            writables.add(o.quantity)
    order = {q: i for i, q in enumerate(_SINGLE)}
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


# --- output ------------------------------------------------------------------------------------
def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_profile(draft: Draft) -> str:
    """The draft as profile YAML, with a comment on every guess."""
    first_line = draft.sys_descr.splitlines()[0][:80] if draft.sys_descr.strip() else draft.name
    modules = ", ".join(draft.mib_modules) or "none"
    lines = [
        f"# DRAFT profile written by `pue-agent profile draft` from {draft.input_note}.",
        "# Every line marked 'guess' needs a person: check it against the MIB and the device's display, then",
        "# delete the mark. Writable setpoints have .nan bounds that the loader refuses until filled in.",
        f"# MIBs used: {', '.join(draft.mib_modules) if draft.mib_modules else 'none (drafted from the walk alone)'}",
        f"name: {draft.name}",
        f"description: {_yaml_str('DRAFT: ' + first_line)}",
        f"source: {_yaml_str('drafted from ' + draft.input_note + '; MIBs: ' + modules)}",
        f"kind: {draft.kind}   # guess: {draft.kind_reason}",
    ]
    if draft.sys_object_id:
        lines.append(f"sample_sys_object_id: {draft.sys_object_id}")
    lines.append("detect:")
    if draft.sys_object_id:
        lines.append(
            f'  sys_object_id_prefixes: ["{draft.sys_object_id}"]   # guess: this model\'s sysObjectID; '
            "shorten to the vendor's product subtree to cover the family"
        )
    else:
        lines.append("  # the device sent no sysObjectID: detect by sysDescr")
        lines.append(f"  sys_descr_pattern: {_yaml_str('^' + re.escape(draft.sys_descr[:20]))}   # guess")
    probe = next((o for o in draft.objects if o.quantity in _SINGLE), draft.objects[0] if draft.objects else None)
    if probe is not None:
        instance = probe.oid or ".".join(
            [probe.column or "", *[str(e if e is not None else 1) for _l, e in probe.index]]
        )
        lines.append(
            f"  requires_oid: {instance}   # {probe.source}: present on this device (tells it from "
            "other models behind the same sysObjectID)"
        )
    if not draft.objects:
        lines.append("objects: []   # nothing found: give the device's MIBs with --mib-dir")
    else:
        lines.append("objects:")
    for o in draft.objects:
        lines.append(f"  - quantity: {o.quantity}")
        if o.oid is not None:
            lines.append(f"    oid: {o.oid}   # {o.source}")
        else:
            lines.append(f"    column: {o.column}   # {o.source}")
            parts = ", ".join(
                f"{{label: {label}}}" if equals is None else f"{{equals: {equals}}}" for label, equals in o.index
            )
            lines.append(f"    index: [{parts}]")
        if o.labels:
            lines.append("    labels: {" + ", ".join(f"{k}: {_yaml_str(v)}" for k, v in o.labels.items()) + "}")
        lines.append(f"    type: {o.type}")
        if o.decimals_column:
            lines.append(f"    decimals_column: {o.decimals_column}   # {o.decimals_source}")
        if o.scale != 1.0:
            lines.append(f"    scale: {_scale_text(o.scale)}")
        if o.offset:
            lines.append(f"    offset: {_scale_text(o.offset)}")
        if o.valid_min is not None:
            lines.append(f"    valid_min: {_fmt(o.valid_min)}")
        if o.valid_max is not None:
            lines.append(f"    valid_max: {_fmt(o.valid_max)}")
        if o.writable_step is not None:
            lines.append(
                f"    writable: {{min: .nan, max: .nan, step: {_fmt(o.writable_step)}}}   # FILL IN from the "
                "vendor's manual (the loader refuses .nan)"
            )
        if o.optional:
            lines.append("    optional: true")
        seen = ", ".join(_fmt(round(s, 3)) for s in o.samples[:4]) + (" ..." if len(o.samples) > 4 else "")
        lines.append(f"    # seen: {seen}")
        for comment in o.comments:
            lines.append(f"    # {comment}")
    if draft.skipped:
        lines.append("# Candidates not used (add them by hand if they are what you need):")
        lines.extend(f"#   {s}" for s in draft.skipped)
    return "\n".join(lines) + "\n"


def write_draft(text: str, out: Path, *, force: bool) -> None:
    """Write the draft; refuse to overwrite an existing file unless ``force``."""
    if out.exists() and not force:
        raise UsageError(f"{out}: exists; pass --force to overwrite it")
    out.write_text(text, encoding="utf-8")


def profile_name_for(out: Path | None, sys_descr: str, sys_oid: str) -> str:
    """A profile name: the output file's stem (the loader requires it), else one from the device."""
    if out is not None:
        name = out.stem
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise UsageError(
                f"{out}: a profile file is named NAME.yaml with NAME in lower case letters, digits, "
                "'-' and '_' (the profile's name must equal it)"
            )
        return name
    words = _words(sys_descr)[:2] or ["device"]
    enterprise = sys_oid.split(".")[6] if sys_oid.startswith("1.3.6.1.4.1.") and sys_oid.count(".") >= 6 else ""
    stem = "-".join(re.sub(r"[^a-z0-9]", "", w) for w in words if w)
    return f"draft-{stem}" + (f"-{enterprise}" if enterprise else "")
