"""Device profiles: what a device model exposes, as YAML data (``configs/profiles/*.yaml``).

A profile names numeric OIDs (with a ``# MIB::object`` comment in the YAML), the SNMP type, the
scale/offset to the canonical SI quantity, how table indexes map to labels, which objects are
writable setpoints (with bounds), and how to recognise the device (sysObjectID prefix, sysDescr
pattern). Adding a vendor is adding a YAML file; no Python changes.

Example (one scalar and one table column)::

    name: apc-rpdu2
    detect: {sys_object_id_prefixes: ["1.3.6.1.4.1.318.1.3.4"]}
    objects:
      - quantity: active_power_w
        oid: 1.3.6.1.4.1.318.1.1.26.4.3.1.5.1   # PowerNet-MIB::rPDU2DeviceStatusPower.1
        type: integer
        scale: 10                                 # hundredths of kW -> W
      - quantity: current_a
        column: 1.3.6.1.4.1.318.1.1.12.2.3.1.1.2 # PowerNet-MIB::rPDULoadStatusLoad
        index: [{label: phase}]
        type: gauge32
        scale: 0.1

One module (over 400 lines): the profile schema is one pydantic model tree; its validators check across the tree.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.config.strict_yaml import ParsedYamlCache, YamlFileError, read_yaml
from agent.devices.quantities import GLOSSARY
from agent.errors import DecodeError, ProfileError

__all__ = [
    "BACNET_COMMANDABLE",
    "DEFAULT_PROFILE_DIR",
    "BacnetPoint",
    "BacnetSettings",
    "IndexPart",
    "ModbusRegister",
    "ModbusSettings",
    "Profile",
    "ProfileObject",
    "ProfileRegistry",
    "RedfishProperty",
    "RowFilter",
    "ScaleColumn",
    "load_profile",
    "load_profiles",
]

#: the shipped profiles: ``configs/profiles/`` in the source tree, package data in an installed wheel
#: (``agent/data/profiles`` is a link to it in the repository)
DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent.parent / "data" / "profiles"

_OID_RE = re.compile(r"^[0-2](\.\d+)+$")

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

ModbusDataType = Literal["int16", "uint16", "int32", "uint32", "float32", "int64", "uint64"]

#: registers (16-bit words) each Modbus data type occupies
MODBUS_WORDS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
}

#: the raw modulus at which an unsigned Modbus energy register wraps to 0
MODBUS_WRAP: dict[str, int] = {"uint16": 2**16, "uint32": 2**32, "uint64": 2**64}


BacnetObjectType = Literal[
    "analog-input",
    "analog-output",
    "analog-value",
    "binary-input",
    "binary-output",
    "binary-value",
    "multi-state-input",
    "multi-state-output",
    "multi-state-value",
]

#: BACnet object types whose presentValue is commanded through a priority array (ASHRAE 135 clause 19.2):
#: outputs always, values where the device implements a priority array (a PICS says which)
BACNET_COMMANDABLE = frozenset(
    {"analog-output", "analog-value", "binary-output", "binary-value", "multi-state-output", "multi-state-value"}
)


def _check_oid(value: str) -> str:
    value = value.strip().lstrip(".")
    if not _OID_RE.match(value):
        raise ValueError(f"not a numeric OID: {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexPart(_Strict):
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


class Writable(_Strict):
    """A writable setpoint: the bounds a real unit accepts, in canonical units."""

    min: float
    max: float
    step: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Writable:
        if not (math.isfinite(self.min) and math.isfinite(self.max)):
            return self  # ProfileObject refuses it, naming the quantity
        if self.min >= self.max:
            raise ValueError(f"writable min {self.min} must be below max {self.max}")
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"writable step {self.step} must be a positive number")
        return self


class Counter(_Strict):
    """How an energy accumulator misbehaves: wrap modulus (raw), a cap where it sticks, resets."""

    wrap_raw: int | None = Field(default=None, description="raw value at which the counter wraps to 0")
    cap_raw: int | None = Field(default=None, description="raw value at which the counter sticks")


class RowFilter(_Strict):
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
        return None if value is None else _check_oid(value)

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


def _string_index(subs: tuple[int, ...]) -> str | None:
    """Text of a length-prefixed OCTET STRING index, or None if the sub-identifiers are not one."""
    if not subs or subs[0] != len(subs) - 1 or any(not 0 <= b <= 255 for b in subs[1:]):
        return None
    return bytes(subs[1:]).decode("utf-8", "replace")


class ScaleColumn(_Strict):
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
        return _check_oid(value)

    @field_validator("factors")
    @classmethod
    def _finite(cls, value: Mapping[int, float]) -> Mapping[int, float]:
        for raw, factor in value.items():
            if not (math.isfinite(factor) and factor != 0):
                raise ValueError(f"factor for code {raw} must be a finite non-zero number, not {factor}")
        return value


class ModbusRegister(_Strict):
    """Where a Modbus profile object lives: register address (0-based, as on the wire), table, data type.

    ``word_order`` big: the first register holds the most significant word (Modbus's own convention);
    little: the least significant first ("word swapped", many meters' float32). ``byte_order`` little
    swaps the two bytes inside each register (rare; some gateways).
    """

    address: int = Field(ge=0, le=65535, description="register address as sent on the wire (0-based)")
    function: Literal["holding", "input"] = Field(
        default="holding", description="holding registers (function 3) or input registers (function 4)"
    )
    data_type: ModbusDataType
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"

    @property
    def words(self) -> int:
        return MODBUS_WORDS[self.data_type]

    @model_validator(mode="after")
    def _fits(self) -> ModbusRegister:
        if self.address + self.words > 65536:
            raise ValueError(f"{self.data_type} at {self.address} runs past register 65535")
        return self


class ModbusSettings(_Strict):
    """How a Modbus profile's registers are batched into requests (per profile: what the meter allows)."""

    max_span_registers: int = Field(
        default=100, ge=4, le=125, description="most registers one read asks for (Modbus allows 125)"
    )
    max_gap_registers: int = Field(
        default=0,
        ge=0,
        le=124,
        description="unused registers a read may span to join two ranges: only where the register map "
        "says the registers in between answer (many meters refuse undefined addresses with exception 2)",
    )


class BacnetPoint(_Strict):
    """Where a BACnet profile object lives: object type and instance on the device, and its expected units.

    The agent reads ``presentValue``, ``statusFlags`` and ``reliability`` (and ``units`` when given here) with
    ReadPropertyMultiple. ``units`` is the BACnet engineering unit the point list gives (bacpypes3/ASHRAE 135
    spelling, e.g. ``degrees-celsius``, ``kilowatts``): a device answering another unit is an unreadable
    object, never a value read in the wrong unit. ``write_resolution`` (writable setpoints only) is the
    smallest step of presentValue a write is planned in (the guard works in whole multiples of it).
    """

    object_type: BacnetObjectType
    instance: int = Field(ge=0, le=4194302, description="object instance (0..4194302; 4194303 is 'any')")
    units: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="expected BACnet engineering unit of presentValue (ASHRAE 135 name, e.g. degrees-celsius)",
    )
    write_resolution: float = Field(
        default=0.01, gt=0, le=1000, description="writable setpoints: presentValue is written in multiples of this"
    )

    @property
    def key(self) -> str:
        return f"{self.object_type},{self.instance}"


class BacnetSettings(_Strict):
    """How a BACnet profile's objects are batched into ReadPropertyMultiple requests."""

    max_objects_per_request: int = Field(
        default=16,
        ge=1,
        le=100,
        description="objects one ReadPropertyMultiple asks for (3-4 properties each; 16 fit a 480-octet APDU "
        "unsegmented, the smallest BACnet/IP devices accept)",
    )


class RedfishProperty(_Strict):
    """Where a Redfish profile object lives: a resource under the server's chassis and a JSON pointer into it.

    ``resource`` is a path relative to the chassis (``/redfish/v1/Chassis/{id}/``): ``Power`` (the
    deprecated but widest-spread Power resource), ``EnvironmentMetrics``, ``PowerSubsystem``; ``pointer`` an
    RFC 6901 JSON pointer into its body (``/PowerControl/0/PowerConsumedWatts``, ``/PowerWatts/Reading``).
    A property that is absent or ``null`` (Redfish's "no reading") fails the device's read unless the object
    is ``optional``: a server whose input power cannot be read is down, never counted as 0 W.

    A ``*`` segment stands for every member of the collection reached there (``PowerSubsystem/PowerSupplies/
    */Metrics``: each power supply's metrics), one reading per member, labelled ``member_label`` = its ``Id``.
    """

    resource: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/([A-Za-z0-9][A-Za-z0-9_.-]*|\*))*$")] = Field(
        description="resource path under the chassis, e.g. Power or EnvironmentMetrics"
    )
    pointer: Annotated[str, Field(pattern=r"^(/[^/]*)+$")] = Field(
        description="JSON pointer (RFC 6901) to the number inside the resource, e.g. /PowerWatts/Reading"
    )
    member_label: str | None = Field(
        default=None, description="with a '*' in resource: the label holding each collection member's Id"
    )

    @model_validator(mode="after")
    def _members(self) -> RedfishProperty:
        stars = self.resource.split("/").count("*")
        if stars > 1:
            raise ValueError(f"resource {self.resource!r}: at most one '*' (one collection's members)")
        if (stars == 1) != (self.member_label is not None):
            raise ValueError("a '*' in resource and a member_label go together (the label tells members apart)")
        return self

    def tokens(self) -> tuple[str, ...]:
        """The pointer's reference tokens, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
        return tuple(t.replace("~1", "/").replace("~0", "~") for t in self.pointer.split("/")[1:])


class ProfileObject(_Strict):
    """One object (scalar ``oid``) or table column (``column`` + ``index``) -> one canonical quantity.

    A Modbus profile's objects give a ``modbus`` register instead (no ``type``: the register's ``data_type``).
    """

    quantity: str
    oid: str | None = None
    column: str | None = None
    modbus: ModbusRegister | None = Field(
        default=None, description="Modbus profiles: the register, instead of an SNMP oid/column"
    )
    bacnet: BacnetPoint | None = Field(
        default=None, description="BACnet profiles: object type + instance, instead of an SNMP oid/column"
    )
    redfish: RedfishProperty | None = Field(
        default=None, description="Redfish profiles: resource and JSON pointer, instead of an SNMP oid/column"
    )
    index: tuple[IndexPart, ...] = ()
    labels: Mapping[str, str] = Field(default_factory=dict)
    type: SnmpType | None = None
    scale: float = 1.0
    offset: float = 0.0
    decimals_column: str | None = Field(
        default=None,
        description="column holding the number of decimal digits for the same index (Raritan PDU2-MIB)",
    )
    decimals_negative_is_integer: bool = Field(
        default=False,
        description="a negative count in decimals_column means an integer value, not an error (RFC 3433 "
        "EntitySensorPrecision -8..-1: the number of accurate digits)",
    )
    scale_column: ScaleColumn | None = Field(
        default=None, description="per-row multiplier from a code column at the same index (entPhySensorScale)"
    )
    row_filter: RowFilter | tuple[RowFilter, ...] | None = Field(
        default=None, description="one filter, or a list that must all keep the row (unit and online state)"
    )
    valid_min: float | None = None
    valid_max: float | None = None
    counter: Counter | None = None
    writable: Writable | None = None
    enum: Mapping[int, float] | None = Field(default=None, description="raw integer -> canonical value")
    optional: bool = Field(default=False, description="absent on some firmware: no problem reported")
    unit_suffix: str | None = Field(
        default=None,
        min_length=1,
        description="string_number only: the unit the device appends to the number ('0.061kW'), required "
        "and stripped before parsing; the unit is given, never guessed from the text",
    )
    no_value: tuple[float, ...] = Field(
        default=(),
        description="raw values meaning 'no probe on this port' (-1, -999.9, -2147483648): the row "
        "is skipped, not a problem",
    )
    instead_of: str | None = Field(
        default=None,
        description="a fallback: read this scalar only when the device does not answer this other scalar OID "
        "(a higher-precision object of the same value, e.g. PowerNet-MIB upsHighPrec* over upsAdv*)",
    )
    instead_of_column: str | None = Field(
        default=None,
        description="a fallback: read this object only when the device has no row in this table column of the "
        "same profile (XUPS-MIB tables on Eaton cards that do not answer the UPS-MIB ones)",
    )
    note: str | None = None

    @field_validator("oid", "column", "decimals_column", "instead_of", "instead_of_column")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        return None if value is None else _check_oid(value)

    @field_validator("quantity")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in GLOSSARY:
            raise ValueError(f"unknown quantity {value!r} (not in agent/devices/quantities.py)")
        return value

    def _snmp_fields_given(self) -> list[str]:
        """The SNMP-only fields this object sets: an object addressed by another protocol takes none."""
        snmp_only = {
            "oid": self.oid,
            "column": self.column,
            "type": self.type,
            "index": self.index or None,
            "decimals_column": self.decimals_column,
            "scale_column": self.scale_column,
            "row_filter": self.row_filter,
            "unit_suffix": self.unit_suffix,
            "instead_of": self.instead_of,
            "instead_of_column": self.instead_of_column,
        }
        return sorted(k for k, v in snmp_only.items() if v is not None)

    @model_validator(mode="after")
    def _bacnet_shape(self) -> ProfileObject:
        if self.bacnet is None:
            return self
        if self.modbus is not None:
            raise ValueError("an object has one address: a 'bacnet' point or a 'modbus' register, not both")
        given = self._snmp_fields_given()
        if given:
            raise ValueError(f"a BACnet object ('bacnet' point) takes no SNMP fields ({', '.join(given)})")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.writable is not None:
            if self.is_counter:
                raise ValueError("a counter cannot be a writable setpoint")
            if self.bacnet.object_type not in BACNET_COMMANDABLE:
                raise ValueError(
                    f"writable {self.quantity}: a BACnet {self.bacnet.object_type} has no priority array; "
                    f"only {', '.join(sorted(BACNET_COMMANDABLE))} are written"
                )
            w = self.writable
            if not (math.isfinite(w.min) and math.isfinite(w.max)) or not w.step:
                raise ValueError(
                    f"writable {self.quantity}: a BACnet setpoint needs finite 'min'/'max' and a positive 'step'"
                )
        return self

    @property
    def raw_scale(self) -> float:
        """Canonical units per raw integer of a setpoint write (BACnet: presentValue in ``write_resolution`` steps)."""
        if self.bacnet is not None:
            return self.scale * self.bacnet.write_resolution
        return self.scale

    @model_validator(mode="after")
    def _modbus_shape(self) -> ProfileObject:
        if self.bacnet is not None:
            return self  # checked by _bacnet_shape
        if self.modbus is not None and self.redfish is not None:
            raise ValueError("an object has a 'modbus' register or a 'redfish' property, not both")
        if self.redfish is not None:
            return self._redfish_shape()
        if self.modbus is None:
            if self.type is None:
                raise ValueError("an SNMP object needs a 'type'")
            return self
        given = self._snmp_fields_given()
        if given:
            raise ValueError(f"a Modbus object ('modbus' register) takes no SNMP fields ({', '.join(given)})")
        if self.writable is not None:
            raise ValueError("Modbus setpoint writes are not supported (yet): a 'modbus' register object is read-only")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self  # the power ceiling: _power_ceiling, as for SNMP

    def _redfish_shape(self) -> ProfileObject:
        given = sorted(
            [*self._snmp_fields_given(), *(k for k in ("counter", "writable") if getattr(self, k) is not None)]
        )
        if given:
            raise ValueError(f"a Redfish object ('redfish' property) takes no {', '.join(given)} (read-only JSON)")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self

    @model_validator(mode="after")
    def _shape(self) -> ProfileObject:
        if self.modbus is not None or self.redfish is not None or self.bacnet is not None:
            return self  # checked by _modbus_shape / _redfish_shape / _bacnet_shape
        if (self.oid is None) == (self.column is None):
            raise ValueError("an object has exactly one of 'oid' (scalar) or 'column' (table)")
        if self.unit_suffix is not None and self.type != "string_number":
            raise ValueError("'unit_suffix' belongs to type string_number")
        if self.oid is not None and self.index:
            raise ValueError("'index' belongs to a table 'column', not a scalar 'oid'")
        if self.column is not None and not self.index:
            raise ValueError("a table 'column' needs an 'index' mapping its sub-identifiers")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        kind = GLOSSARY[self.quantity].kind
        if kind == "counter" and self.writable:
            raise ValueError("a counter cannot be a writable setpoint")
        if self.writable and not (math.isfinite(self.writable.min) and math.isfinite(self.writable.max)):
            raise ValueError(
                f"writable {self.quantity}: bounds must be finite numbers, not "
                f"[{self.writable.min}, {self.writable.max}] (a write is never sent unbounded)"
            )
        if self.writable and self.column is not None:
            raise ValueError("writable setpoints must be scalar 'oid's")
        if self.column is None and (self.scale_column is not None or self.decimals_column is not None):
            raise ValueError("'scale_column' and 'decimals_column' belong to a table 'column'")
        if self.decimals_negative_is_integer and self.decimals_column is None:
            raise ValueError("'decimals_negative_is_integer' needs a 'decimals_column'")
        if self.column is None and any(f.column is not None for f in self.row_filters):
            raise ValueError("a 'row_filter' by 'column' belongs to a table 'column' (a scalar takes 'oid')")
        if any(p.string for p in self.index[:-1]):
            raise ValueError("a 'string' index part must be the last one")
        if isinstance(self.row_filter, tuple) and not self.row_filter:
            raise ValueError("a 'row_filter' list needs at least one filter")
        if self.instead_of is not None and (self.oid is None or self.instead_of == self.oid):
            raise ValueError("'instead_of' belongs to a scalar 'oid' and names another scalar")
        return self

    @model_validator(mode="after")
    def _power_ceiling(self) -> ProfileObject:
        # a meter answering 2^31-1 W must be an unreadable object, not a PUE of 16,758 (issue 19)
        if GLOSSARY[self.quantity].is_power and (self.valid_max is None or not math.isfinite(self.valid_max)):
            raise ValueError(
                f"{self.quantity}: a power quantity needs a finite 'valid_max' (the device's "
                "rated power, generously rounded up): larger readings are refused"
            )
        return self

    def means_no_value(self, raw: int | bytes | str | None) -> bool:
        """Whether a raw value is the device's 'no probe' sentinel (``no_value``), compared before scaling."""
        if not self.no_value or raw is None or isinstance(raw, bool):
            return False
        if isinstance(raw, int):
            return float(raw) in self.no_value
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        try:
            return float(text.strip()) in self.no_value
        except ValueError:
            return False

    @property
    def row_filters(self) -> tuple[RowFilter, ...]:
        """Every filter of ``row_filter`` (none, one, or a list that must all keep the row)."""
        if self.row_filter is None:
            return ()
        return self.row_filter if isinstance(self.row_filter, tuple) else (self.row_filter,)

    @property
    def is_counter(self) -> bool:
        return GLOSSARY[self.quantity].kind == "counter"

    def wrap_modulus_raw(self) -> int | None:
        """Raw modulus at which this counter wraps, if it does."""
        if self.counter and self.counter.wrap_raw:
            return self.counter.wrap_raw
        if self.modbus is not None:
            return MODBUS_WRAP.get(self.modbus.data_type)
        return WRAP_MODULUS.get(self.type) if self.type in ("counter32", "counter64") else None

    # --- table index <-> labels -------------------------------------------------------------
    def match_index(self, suffix: tuple[int, ...]) -> dict[str, str] | None:
        """Labels for an index suffix, or None when the row is not ours (``equals`` mismatch)."""
        fixed = self.index[:-1] if self.index and self.index[-1].string else self.index
        if len(suffix) < len(fixed) or (fixed is self.index and len(suffix) != len(fixed)):
            return None
        labels = dict(self.labels)
        for part, sub in zip(fixed, suffix[: len(fixed)], strict=True):
            if part.equals is not None:
                if sub != part.equals:
                    return None
            else:
                assert part.label is not None
                labels[part.label] = str(sub)
        if fixed is not self.index:
            text = _string_index(suffix[len(fixed) :])
            if text is None:
                return None
            labels[self.index[-1].label or ""] = text
        return labels

    def instance_oid(self, labels: Mapping[str, str]) -> str:
        """The full OID of one instance (scalars: the ``oid``; tables: column + index from labels)."""
        if self.oid is not None:
            return self.oid
        assert self.column is not None
        subs: list[str] = []
        for p in self.index:
            if p.equals is not None:
                subs.append(str(p.equals))
            elif p.string:
                text = labels[p.label or ""].encode("utf-8")
                subs.extend([str(len(text)), *(str(b) for b in text)])
            else:
                subs.append(labels[p.label or ""])
        return ".".join([self.column, *subs])

    # --- raw <-> canonical --------------------------------------------------------------------
    def decode(
        self, kind: str, raw: int | bytes | str, decimals: int | None = None, factor: float | None = None
    ) -> float:
        """Convert a raw SNMP value to the canonical quantity, applying scale exactly once.

        Raises
        ------
        DecodeError
            wrong SNMP type, unparsable number, or outside ``valid_min``/``valid_max``.
        """
        if kind == "malformed":
            raise DecodeError(
                f"{self.quantity}: malformed value from the device (an INTEGER with no content octets); not read as 0"
            )
        if self.type is None or kind not in ACCEPTED_KINDS[self.type]:
            raise DecodeError(f"{self.quantity}: expected {self.type}, device sent {kind}")
        if self.type == "string_number":
            text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
            digits = text.strip()
            if self.unit_suffix is not None:
                if not digits.endswith(self.unit_suffix):
                    raise DecodeError(f"{self.quantity}: {text!r} does not end in the unit {self.unit_suffix!r}")
                digits = digits[: -len(self.unit_suffix)].strip()
            try:
                number = float(digits)
            except ValueError:
                raise DecodeError(f"{self.quantity}: not a number: {text!r}") from None
        else:
            assert isinstance(raw, int)
            number = float(raw)
            if self.enum is not None:
                if raw not in self.enum:
                    raise DecodeError(f"{self.quantity}: unknown enum value {raw}")
                return float(self.enum[raw])
        if decimals is not None and decimals < 0 and self.decimals_negative_is_integer:
            decimals = 0
        if decimals is not None:
            if not 0 <= decimals <= 9:  # the device's own decimal-digits object, sanity-checked
                raise DecodeError(f"{self.quantity}: device reports {decimals} decimal digits (expected 0-9)")
            number = number / (10**decimals)
        if factor is not None:
            number = number * factor
        return self.decode_number(number)

    def decode_number(self, number: float) -> float:
        """A raw number (a Modbus register's value, or a decoded SNMP one) -> canonical, range-checked.

        Raises
        ------
        DecodeError
            not finite (a float32 NaN register), unknown enum value, or outside ``valid_min``/``valid_max``.
        """
        if not math.isfinite(number):
            raise DecodeError(f"{self.quantity}: the device sent {number} (not a number)")
        if (self.modbus is not None or self.bacnet is not None) and self.enum is not None:
            if number not in self.enum:
                raise DecodeError(f"{self.quantity}: unknown enum value {number:g}")
            return float(self.enum[int(number)])
        value = number * self.scale + self.offset
        if self.valid_min is not None and value < self.valid_min:
            raise DecodeError(f"{self.quantity}: {value:g} below physical minimum {self.valid_min:g}")
        if self.valid_max is not None and value > self.valid_max:
            raise DecodeError(f"{self.quantity}: {value:g} above physical maximum {self.valid_max:g}")
        return value

    def encode(self, value: float) -> int:
        """Canonical value -> raw integer to SET or to serve (inverse of :meth:`decode`)."""
        if self.enum is not None:
            for raw, canon in self.enum.items():
                if abs(canon - value) < 1e-9:
                    return int(raw)
            raise DecodeError(f"{self.quantity}: {value} has no raw enum value")
        return round((value - self.offset) / self.raw_scale)


class Detect(_Strict):
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
        return tuple(_check_oid(v) for v in value)

    @field_validator("requires_oid", "requires_column")
    @classmethod
    def _probe_oid(cls, value: str | None) -> str | None:
        return None if value is None else _check_oid(value)

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


class Profile(_Strict):
    """A device model's SNMP knowledge."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    description: str
    source: str = Field(description="MIB(s) and the recordings the profile was checked against")
    kind: Literal["utility_meter", "ups", "pdu", "cooling_unit", "chiller_plant", "environment_sensor", "server"]
    protocol: Literal["snmp", "modbus", "bacnet", "redfish"] = Field(
        default="snmp", description="adapter that reads it: agent/devices/<protocol>/"
    )
    modbus: ModbusSettings | None = Field(
        default=None, description="Modbus profiles: how registers are batched (defaults: ModbusSettings)"
    )
    bacnet: BacnetSettings | None = Field(
        default=None, description="BACnet profiles: how objects are batched (defaults: BacnetSettings)"
    )
    detect: Detect = Detect()
    extends: str | None = Field(
        default=None,
        description="a profile whose objects this one inherits (its own objects replace the base's "
        "object of the same oid/column); detection is never inherited",
    )
    max_repetitions: int = Field(default=25, ge=1, le=100)
    sample_sys_object_id: str | None = None
    objects: tuple[ProfileObject, ...]

    @model_validator(mode="after")
    def _one_protocol(self) -> Profile:
        if self.protocol == "bacnet" or any(o.bacnet is not None for o in self.objects) or self.bacnet is not None:
            return self._one_bacnet()
        if self.protocol == "redfish" or any(o.redfish is not None for o in self.objects):
            return self._one_redfish()
        modbus = self.protocol == "modbus"
        mixed = [o.quantity for o in self.objects if (o.modbus is not None) != modbus]
        if mixed:
            what = (
                "give a 'modbus' register" if modbus else "be SNMP objects: a 'modbus' register needs protocol: modbus"
            )
            raise ValueError(f"objects of a {self.protocol} profile must {what}; these do not: {', '.join(mixed)}")
        if self.modbus is not None and not modbus:
            raise ValueError("'modbus' settings belong to a profile with protocol: modbus")
        if modbus and (self.detect != Detect() or self.extends is not None):
            raise ValueError("a Modbus profile has no 'detect' (nothing to probe) and no 'extends'")
        return self

    def _one_bacnet(self) -> Profile:
        if self.protocol != "bacnet":
            raise ValueError("a 'bacnet' point or 'bacnet' settings need protocol: bacnet")
        mixed = [o.quantity for o in self.objects if o.bacnet is None]
        if mixed:
            raise ValueError(
                f"objects of a bacnet profile must give a 'bacnet' point; these do not: {', '.join(mixed)}"
            )
        if self.modbus is not None:
            raise ValueError("'modbus' settings belong to a profile with protocol: modbus")
        if self.detect != Detect() or self.extends is not None:
            raise ValueError("a BACnet profile has no 'detect' (the site config names it) and no 'extends'")
        keys = [o.bacnet.key for o in self.objects if o.bacnet is not None]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"BACnet objects read twice: {', '.join(dup)}")
        return self

    def _one_redfish(self) -> Profile:
        wrong = [o.quantity for o in self.objects if o.redfish is None or self.protocol != "redfish"]
        if wrong:
            raise ValueError(
                "objects of a redfish profile must give a 'redfish' property, and a 'redfish' property needs "
                f"protocol: redfish; these do not: {', '.join(wrong)}"
            )
        if self.modbus is not None or self.detect != Detect() or self.extends is not None:
            raise ValueError("a Redfish profile has no 'modbus' settings, no 'detect' and no 'extends'")
        return self

    @property
    def modbus_settings(self) -> ModbusSettings:
        return self.modbus or ModbusSettings()

    @property
    def bacnet_settings(self) -> BacnetSettings:
        return self.bacnet or BacnetSettings()

    @property
    def relinquishes(self) -> bool:
        """Whether a revert of this profile's setpoints relinquishes its priority (BACnet) instead of writing."""
        return self.protocol == "bacnet"

    @model_validator(mode="after")
    def _unique_setpoints(self) -> Profile:
        seen: set[str] = set()
        for obj in self.objects:
            if obj.writable:
                if obj.quantity in seen:
                    raise ValueError(f"two writable objects for {obj.quantity}")
                seen.add(obj.quantity)
        return self

    @model_validator(mode="after")
    def _fallbacks_name_objects(self) -> Profile:
        scalars = {obj.oid for obj in self.objects if obj.oid is not None}
        for obj in self.objects:
            if obj.instead_of is not None and obj.instead_of not in scalars:
                raise ValueError(
                    f"{obj.quantity} {obj.oid}: 'instead_of' {obj.instead_of} is not a scalar object of this profile"
                )
        columns = {obj.column for obj in self.objects if obj.column is not None}
        for obj in self.objects:
            if obj.instead_of_column is not None and (
                obj.instead_of_column not in columns or obj.instead_of_column == obj.column
            ):
                raise ValueError(
                    f"{obj.quantity} {obj.oid or obj.column}: 'instead_of_column' "
                    f"{obj.instead_of_column} is not another table column of this profile"
                )
        return self

    @cached_property
    def scalar_oids(self) -> tuple[str, ...]:
        oids: list[str] = []
        for obj in self.objects:
            for oid in (obj.oid, *(f.oid for f in obj.row_filters)):
                if oid is not None and oid not in oids:
                    oids.append(oid)
        return tuple(oids)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        cols: list[str] = []
        for obj in self.objects:
            for col in (
                obj.column,
                obj.decimals_column,
                obj.scale_column.column if obj.scale_column else None,
                *(f.column for f in obj.row_filters),
            ):
                if col is not None and col not in cols:
                    cols.append(col)
        return tuple(cols)

    def rate_ceiling(self, counter_quantity: str) -> float | None:
        """Ceiling of the gauge a counter's rate is read as (``energy_j``: ``active_power_w``), or None."""
        rate = GLOSSARY[counter_quantity].rate
        ceilings = [o.valid_max for o in self.objects if o.quantity == rate and o.valid_max is not None]
        return max(ceilings) if ceilings else None

    def writable(self, quantity: str) -> ProfileObject | None:
        for obj in self.objects:
            if obj.writable and obj.quantity == quantity:
                return obj
        return None

    def matches(self, sys_object_id: str, sys_descr: str) -> int:
        """Detection score: 0 no match; longer sysObjectID prefix and sysDescr match score higher."""
        score = 0
        oid = sys_object_id.lstrip(".")
        for prefix in self.detect.sys_object_id_prefixes:
            if oid == prefix or oid.startswith(prefix + "."):
                score = max(score, 10 + prefix.count("."))
        if self.detect.sys_descr_pattern and re.search(self.detect.sys_descr_pattern, sys_descr, re.I):
            score = score + 5 if score else 5
        return score


def _format_validation(path: Path, err: ValidationError) -> list[str]:
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "<top>"
        lines.append(f"{path}: {loc}: {item['msg']}")
    return lines


def _raw_key(raw: object) -> tuple[str | None, str | None]:
    """The ``(oid, column)`` of an object as written in YAML (before validation)."""
    if not isinstance(raw, dict):
        return None, None
    oid, column = raw.get("oid"), raw.get("column")
    return (
        str(oid).strip().lstrip(".") if oid is not None else None,
        str(column).strip().lstrip(".") if column is not None else None,
    )


def _base_objects(
    path: Path, base_name: str, chain: tuple[str, ...], cache: ParsedYamlCache | None
) -> tuple[ProfileObject, ...]:
    """The objects of the profile ``path`` extends (searched beside it, then among the shipped ones)."""
    if base_name in chain:
        raise ProfileError(f"{path}: 'extends' loops: {' -> '.join((*chain, base_name))}")
    candidates = (path.parent / f"{base_name}.yaml", DEFAULT_PROFILE_DIR / f"{base_name}.yaml")
    base_path = next((c for c in candidates if c.is_file()), None)
    if base_path is None:
        raise ProfileError(f"{path}: extends unknown profile {base_name!r}")
    return load_profile(base_path, chain, cache).objects


def profile_cache() -> ParsedYamlCache:
    """The parsed-profile cache of this user: ``$XDG_CACHE_HOME/pue-agent/profiles.marshal``.

    ``PUE_AGENT_CACHE=off`` reads every file afresh (and writes nothing).
    """
    if os.environ.get("PUE_AGENT_CACHE", "").lower() in {"off", "0", "no"}:
        return ParsedYamlCache(None)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return ParsedYamlCache(Path(base) / "pue-agent" / f"profiles-py{sys.version_info[0]}{sys.version_info[1]}.marshal")


def load_profile(path: Path, _chain: tuple[str, ...] = (), cache: ParsedYamlCache | None = None) -> Profile:
    """Read and validate one profile YAML; raise :class:`ProfileError` naming file, path and reason.

    A profile that ``extends`` another gets the base's objects first, minus those it redefines
    (same ``oid`` or ``column``), then its own; the whole is validated together (an ``instead_of`` may
    name an inherited object).
    """
    try:
        data = read_yaml(path, cache)
    except YamlFileError as err:
        raise ProfileError(str(err)) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping")
    inherited = 0
    if isinstance(data.get("extends"), str) and isinstance(data.get("objects"), list):
        own = data["objects"]
        keys = {_raw_key(raw) for raw in own}
        base = _base_objects(path, data["extends"], (*_chain, str(data.get("name"))), cache)
        kept = [obj for obj in base if (obj.oid, obj.column) not in keys]
        inherited = len(kept)
        data = {**data, "objects": [*kept, *own]}
    try:
        profile = Profile.model_validate(data)
    except ValidationError as err:
        lines = _format_validation(path, err)
        if inherited:
            lines.append(f"{path}: (objects are numbered after the {inherited} inherited from {data['extends']!r})")
        raise ProfileError("\n".join(lines)) from None
    if profile.name != path.stem:
        raise ProfileError(f"{path}: name {profile.name!r} must equal the file name {path.stem!r}")
    return profile


class ProfileRegistry:
    """All known profiles by name, with detection.

    Profiles given as files (``lazy``: name -> path) are read and validated on first use: a
    command that names its devices' profiles (``check-config``, ``read --profile``) reads only
    those, not every shipped file (about 0.2 s of YAML). Detection and ``fallbacks`` read them all.
    """

    def __init__(
        self, profiles: Iterable[Profile], lazy: Mapping[str, Path] | None = None, cache: ParsedYamlCache | None = None
    ) -> None:
        self._profiles: dict[str, Profile] = {}
        self._lazy: dict[str, Path] = dict(lazy or {})
        self._cache = cache
        for p in profiles:
            if p.name in self._profiles or p.name in self._lazy:
                raise ProfileError(f"two profiles named {p.name!r}")
            self._profiles[p.name] = p

    def __contains__(self, name: object) -> bool:
        return name in self._profiles or name in self._lazy

    def __getitem__(self, name: str) -> Profile:
        if name in self._lazy:
            self._profiles[name] = load_profile(self._lazy[name], cache=self._cache)
            del self._lazy[name]
            if self._cache is not None:
                self._cache.save()
        try:
            return self._profiles[name]
        except KeyError:
            raise ProfileError(f"unknown profile {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted({*self._profiles, *self._lazy})

    def _all(self) -> list[Profile]:
        """Every profile, reading the lazy ones now; their problems are reported together."""
        problems: list[str] = []
        for name in sorted(self._lazy):
            try:
                self._profiles[name] = load_profile(self._lazy[name], cache=self._cache)
                del self._lazy[name]
            except ProfileError as err:
                problems.append(str(err))
        if self._cache is not None:
            self._cache.save()
        if problems:
            raise ProfileError("\n".join(problems))
        return list(self._profiles.values())

    def detect(self, sys_object_id: str, sys_descr: str) -> Profile | None:
        """Best-scoring profile for a device's sysObjectID and sysDescr, or None (fallbacks score last)."""
        scored = [(p.matches(sys_object_id, sys_descr), p.name, p) for p in self._all()]
        scored = [s for s in scored if s[0] > 0]
        if not scored:
            return None
        scored.sort(key=lambda s: (s[2].detect.fallback is not None, -s[0], s[1]))
        return scored[0][2]

    def fallbacks(self) -> list[Profile]:
        """The standard-MIB fallback profiles, in the order detection tries them (rank, then name)."""
        found = [p for p in self._all() if p.detect.fallback is not None]
        return sorted(found, key=lambda p: (p.detect.fallback or 0, p.name))


def load_profiles(dirs: Iterable[Path] = (DEFAULT_PROFILE_DIR,), *, lazy_shipped: bool = False) -> ProfileRegistry:
    """Load every ``*.yaml`` profile in ``dirs``; all problems reported together.

    With ``lazy_shipped`` the shipped directory's files (validated by the project's tests) are read on
    first use instead; an operator's own directories are always read and checked now. A name given
    twice is refused either way (a profile's name is its file name).
    """
    profiles: list[Profile] = []
    lazy: dict[str, Path] = {}
    problems: list[str] = []
    seen: set[str] = set()
    cache = profile_cache()
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: profile directory not found")
            continue
        deferred = lazy_shipped and directory.resolve() == DEFAULT_PROFILE_DIR.resolve()
        for path in sorted(directory.glob("*.yaml")):
            if path.stem in seen:
                problems.append(f"two profiles named {path.stem!r} ({path})")
                continue
            seen.add(path.stem)
            if deferred:
                lazy[path.stem] = path
                continue
            try:
                profiles.append(load_profile(path, cache=cache))
            except ProfileError as err:
                problems.append(str(err))
    cache.save()
    if problems:
        raise ProfileError("\n".join(problems))
    return ProfileRegistry(profiles, lazy, cache)
