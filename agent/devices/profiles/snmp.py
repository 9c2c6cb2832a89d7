"""SNMP addressing in a profile: value types, table indexes, row filters, per-row scales, detection."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.devices.profiles.base import StrictModel, check_oid

SnmpType = Literal["integer", "gauge32", "counter32", "counter64", "unsigned32", "string_number"]

#: the SNMP value kinds (as reported by the adapter) accepted for each declared type
ACCEPTED_KINDS: dict[str, frozenset[str]] = {
    "integer": frozenset({"integer"}),
    "gauge32": frozenset({"gauge32", "integer"}),
    "unsigned32": frozenset({"gauge32", "integer"}),
    "counter32": frozenset({"counter32", "gauge32"}),
    "counter64": frozenset({"counter64", "counter32", "gauge32"}),
    "string_number": frozenset({"octets"}),
}

WRAP_MODULUS: dict[str, int] = {"counter32": 2**32, "counter64": 2**64, "gauge32": 2**32}


class IndexPart(StrictModel):
    """One sub-identifier of a table index: either mapped to a label, or required to equal a value."""

    label: str | None = None
    equals: int | None = None
    #: an OCTET STRING index (length, then one sub-identifier per character), its text the label's value;
    #: the last part of an index (Avtech Room Alert MAX keys sensors by an id string)
    string: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> IndexPart:
        if (self.label is None) == (self.equals is None):
            raise ValueError("an index part has exactly one of 'label' or 'equals'")
        if self.string and self.label is None:
            raise ValueError("a 'string' index part needs a 'label'")
        return self


class RowFilter(StrictModel):
    """Keep a table row only if another column, at the same index, holds one of these raw values.

    Example: PDU2-MIB's measurementsExternalSensorValue mixes temperature probes, humidity probes and
    door contacts; ``externalSensorType`` (10 = temperature) tells them apart.

    Two additive variants: ``equals`` may hold text, matched against an OCTET STRING (stripped), for
    units named by a string column ("Fahrenheit"); and ``oid`` instead of ``column`` names one scalar
    that every row (or a scalar object) is kept or dropped by, for a device-wide unit setting
    (PowerNet-MIB emsStatusSysTempUnits). ``if_absent`` keeps the row when the filter object is absent
    (older firmware without the setting). ``matches`` (a regular expression) instead of ``equals`` tests
    text such as a user-given sensor name, where the MIB names no type. A row filtered out is not a problem.
    """

    column: str | None = None
    oid: str | None = None
    equals: tuple[int | str, ...] = ()
    matches: str | None = Field(
        default=None,
        description="regular expression searched in an OCTET STRING (a sensor name, where the MIB "
        "has no type: ServersCheck)",
    )
    if_absent: bool = False

    @field_validator("column", "oid")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        return None if value is None else check_oid(value)

    @model_validator(mode="after")
    def _one_source(self) -> RowFilter:
        if (self.column is None) == (self.oid is None):
            raise ValueError("a row_filter has exactly one of 'column' (same index) or 'oid' (one scalar)")
        if (not self.equals) == (self.matches is None):
            raise ValueError("a row_filter has exactly one of 'equals' (values) or 'matches' (a regular expression)")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as err:
                raise ValueError(f"bad regular expression {self.matches!r}: {err}") from None
        return self

    def accepts(self, raw: int | bytes | str | None, present: bool) -> bool:
        """Whether the filter object's raw value (``present`` False: absent on the device) keeps the row."""
        if not present:
            return self.if_absent
        if isinstance(raw, bool):
            return False
        if self.matches is not None:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            return isinstance(text, str) and re.search(self.matches, text) is not None
        if isinstance(raw, int):
            return raw in self.equals
        if isinstance(raw, bytes):
            return raw.decode("utf-8", "replace").strip() in self.equals
        if isinstance(raw, str):
            return raw.strip() in self.equals
        return False


def string_index(subs: tuple[int, ...]) -> str | None:
    """Text of a length-prefixed OCTET STRING index, or None if the sub-identifiers are not one."""
    if not subs or subs[0] != len(subs) - 1 or any(not 0 <= b <= 255 for b in subs[1:]):
        return None
    return bytes(subs[1:]).decode("utf-8", "replace")


class ScaleColumn(StrictModel):
    """A per-row multiplier named by another column at the same index (a unit or SI-prefix code).

    Example: ENTITY-SENSOR-MIB's entPhySensorScale (units(9) = 10^0, milli(8) = 10^-3, kilo(10) = 10^3):
    ``factors`` maps each raw code to the factor it means. A row whose code is absent or not listed is
    a problem, never read unscaled.
    """

    column: str
    factors: Mapping[int, float] = Field(min_length=1)

    @field_validator("column")
    @classmethod
    def _numeric(cls, value: str) -> str:
        return check_oid(value)

    @field_validator("factors")
    @classmethod
    def _finite(cls, value: Mapping[int, float]) -> Mapping[int, float]:
        for raw, factor in value.items():
            if not (math.isfinite(factor) and factor != 0):
                raise ValueError(f"factor for code {raw} must be a finite non-zero number, not {factor}")
        return value


class Detect(StrictModel):
    sys_object_id_prefixes: tuple[str, ...] = ()
    sys_descr_pattern: str | None = None
    #: an OID that must exist on the device (distinguishes MIBs behind a generic sysObjectID)
    requires_oid: str | None = None
    #: a table column that must have at least one row on the device (a standard table whose indexes are
    #: not known in advance, e.g. ENTITY-SENSOR-MIB::entPhySensorType); probed by walking that column
    requires_column: str | None = None
    #: a standard-MIB fallback (UPS-MIB, ENTITY-SENSOR-MIB): tried only when no vendor profile detects the
    #: device, lowest rank first, and only if its requires_oid / requires_column answers
    fallback: int | None = Field(default=None, ge=0)

    @field_validator("sys_object_id_prefixes")
    @classmethod
    def _oids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_oid(v) for v in value)

    @field_validator("requires_oid", "requires_column")
    @classmethod
    def _probe_oid(cls, value: str | None) -> str | None:
        return None if value is None else check_oid(value)

    @model_validator(mode="after")
    def _fallback_probes(self) -> Detect:
        if self.fallback is not None and self.requires_oid is None and self.requires_column is None:
            raise ValueError("a fallback profile needs 'requires_oid' or 'requires_column' (what must answer)")
        return self

    @field_validator("sys_descr_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"bad regular expression {value!r}: {err}") from None
        return value
