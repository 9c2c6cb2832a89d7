"""One profile object -> one canonical quantity: its address (per protocol), checks and raw <-> SI decoding."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import Field, PrivateAttr, field_validator, model_validator

from agent.devices.profiles.bacnet import BACNET_COMMANDABLE, BacnetPoint
from agent.devices.profiles.base import Counter, StrictModel, Writable, check_oid
from agent.devices.profiles.modbus import MODBUS_WRAP, ModbusRegister
from agent.devices.profiles.redfish import RedfishProperty
from agent.devices.profiles.snmp import (
    ACCEPTED_KINDS,
    WRAP_MODULUS,
    IndexPart,
    RowFilter,
    ScaleColumn,
    SnmpType,
    string_index,
)
from agent.devices.quantities import GLOSSARY
from agent.errors import DecodeError

#: rows remembered per table object (ProfileObject.row)
ROW_CACHE_LIMIT = 4096


class ProfileObject(StrictModel):
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
        return None if value is None else check_oid(value)

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

    #: a table row's OID -> (its index suffix, its labels as sorted pairs, None when the row is not ours): rows
    #: keep their OIDs from poll to poll, so a poll decodes each index once (bounded: ROW_CACHE_LIMIT)
    _row_cache: dict[str, tuple[tuple[int, ...], tuple[tuple[str, str], ...] | None]] = PrivateAttr(
        default_factory=dict
    )

    def row(self, oid: str) -> tuple[tuple[int, ...], tuple[tuple[str, str], ...] | None]:
        """(index suffix, sorted label pairs or None when :meth:`match_index` rejects it) of a row of ``column``."""
        private = self.__pydantic_private__  # not self._row_cache: pydantic's __getattr__, 1 us per var-bind
        assert private is not None
        cache: dict[str, tuple[tuple[int, ...], tuple[tuple[str, str], ...] | None]] = private["_row_cache"]
        hit = cache.get(oid)
        if hit is None:
            assert self.column is not None
            suffix = tuple(int(p) for p in oid[len(self.column) + 1 :].split("."))
            labels = self.match_index(suffix)
            if len(cache) >= ROW_CACHE_LIMIT:
                cache.clear()
            hit = cache[oid] = (suffix, None if labels is None else tuple(sorted(labels.items())))
        return hit

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
            text = string_index(suffix[len(fixed) :])
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
