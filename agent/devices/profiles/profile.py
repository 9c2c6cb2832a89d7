"""A device model's profile: its objects, protocol, detection and the checks across them."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, model_validator

from agent.devices.profiles.bacnet import BacnetSettings
from agent.devices.profiles.base import StrictModel
from agent.devices.profiles.modbus import ModbusSettings
from agent.devices.profiles.objects import ProfileObject
from agent.devices.profiles.snmp import Detect
from agent.devices.quantities import GLOSSARY

#: (wrap modulus, cap, rate ceiling, resolution) of a counter's readings (:meth:`Profile.traits_of`)
CounterTraits = tuple[float | None, float | None, float | None, float]


class Profile(StrictModel):
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

    @cached_property
    def counter_traits(self) -> dict[int, tuple[ProfileObject, CounterTraits]]:
        """Each counter object's :data:`CounterTraits`, by ``id(object)`` with the object itself (check it: an id
        may be reused once an object is gone). Fixed for the profile, so a poll does not work them out for every
        reading; gauges are absent."""
        return {id(obj): (obj, self.traits_of(obj)) for obj in self.objects if obj.is_counter}

    def traits_of(self, obj: ProfileObject) -> CounterTraits:
        """What a reading of counter ``obj`` carries besides its value and labels: its wrap modulus and cap in the
        canonical unit, the ceiling of its rate, and one step of its register."""
        modulus = obj.wrap_modulus_raw()
        cap = obj.counter.cap_raw if obj.counter else None
        return (
            None if modulus is None else modulus * obj.scale,
            None if cap is None else cap * obj.scale + obj.offset,
            self.rate_ceiling(obj.quantity),
            abs(obj.scale),
        )

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
