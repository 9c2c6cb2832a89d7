"""Profile draft: what an object measures, from its name, UNITS, DESCRIPTION or DISPLAY-HINT, and at what scale."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.devices.snmp.mibs import MibNode


# --- what a name or text says -------------------------------------------------------------------
def split_words(text: str) -> list[str]:
    """``rPDU2DeviceStatusPower`` -> r, pdu2, device, status, power (camelCase, digits kept)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


NOT_A_MEASUREMENT = {
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


def temperature_quantity(words: set[str], setpoint: bool) -> str:
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
    name_words = set(split_words(name))
    words = name_words | set(split_words(text))
    lowered = f"{name} {text}".lower()
    setpoint = bool({"setpoint", "setpt", "sp"} & name_words) or "set point" in lowered or "setpoint" in lowered
    if name_words & NOT_A_MEASUREMENT and not setpoint:
        return None
    if words & {"reactive", "reaktiv", "reaktive", "kvarh", "varh", "kvar", "var"}:
        return None
    per_phase = bool(
        name_words & {"phase", "l1", "l2", "l3", "l4", "line", "pole"} or re.search(r"l[1-4]\b", name.lower())
    )
    temperature = bool({"temp", "temperature", "celsius", "degc", "fahrenheit"} & words) or "deg c" in lowered
    if setpoint:
        if temperature:
            return Guess("setpoint", temperature_quantity(words, True), "name says a temperature setpoint")
        return None
    if {"humidity", "humid", "rh"} & name_words or ("humidity" in lowered and "temp" not in name_words):
        return Guess("humidity", "relative_humidity_ratio", "humidity")
    if temperature:
        return Guess("temperature", temperature_quantity(words, False), "temperature")
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
