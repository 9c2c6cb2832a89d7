"""One device the agent polls (SNMP, Modbus TCP, BACnet/IP or Redfish), its role, remaps and BACnet writes."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.config.base import Name, StrictModel

Role = Literal[
    "utility_meter",
    "renewable_meter",
    "ups",
    "pdu",
    "cooling_unit",
    "chiller_plant",
    "environment_sensor",
    "other_meter",
    "server",  # IT equipment read at its input (a BMC over Redfish): IT at category 3
]


class Remap(StrictModel):
    """Site wiring a profile cannot know: "this probe is a rack-inlet sensor".

    Readings of ``quantity`` whose labels include every pair of ``match`` become ``to`` (same unit).
    """

    quantity: str = Field(description="canonical quantity the profile reads (agent/devices/quantities.py)")
    to: str = Field(description="canonical quantity it becomes (same unit and kind)")
    match: dict[str, str] = Field(
        default_factory=dict, description="only readings whose labels include all these pairs (empty: all)"
    )

    @model_validator(mode="after")
    def _same_unit(self) -> Remap:
        from agent.devices.quantities import GLOSSARY

        for name in (self.quantity, self.to):
            if name not in GLOSSARY:
                raise ValueError(f"unknown quantity {name!r}")
        a, b = GLOSSARY[self.quantity], GLOSSARY[self.to]
        if a.unit != b.unit or a.kind != b.kind:
            raise ValueError(f"cannot remap {self.quantity} ({a.unit}, {a.kind}) to {self.to} ({b.unit}, {b.kind})")
        return self


#: BACnet priorities (ASHRAE 135 clause 19.2.1.1) a setpoint write never takes: 1-2 manual and automatic
#: life safety, 6 minimum on/off (reserved to the device's own minimum run times)
BACNET_FORBIDDEN_PRIORITIES = {1: "manual life safety", 2: "automatic life safety", 6: "minimum on/off"}
#: the priority named "manual operator": ours by default, and every write says so
BACNET_MANUAL_OPERATOR = 8


class BacnetDeviceSettings(StrictModel):
    """How the agent writes a BACnet device's setpoints (reads need none of this)."""

    writes: bool = Field(
        default=False, description="true: guarded setpoint writes go to this device (false: read only)"
    )
    write_priority: int = Field(
        default=BACNET_MANUAL_OPERATOR,
        ge=1,
        le=16,
        description="priority-array slot the agent writes and relinquishes (8, manual operator, by default)",
    )
    allow_priority_above_manual_operator: bool = Field(
        default=False,
        description="true: allow write_priority 3, 4, 5 or 7 (outranking the BMS operator's own overrides); "
        "1, 2 (life safety) and 6 (minimum on/off) are never written",
    )

    @model_validator(mode="after")
    def _priority(self) -> BacnetDeviceSettings:
        name = BACNET_FORBIDDEN_PRIORITIES.get(self.write_priority)
        if name is not None:
            raise ValueError(f"write_priority {self.write_priority} ({name}) is never the agent's to write")
        if self.write_priority < BACNET_MANUAL_OPERATOR and not self.allow_priority_above_manual_operator:
            raise ValueError(
                f"write_priority {self.write_priority} outranks manual operator ({BACNET_MANUAL_OPERATOR}): set "
                "allow_priority_above_manual_operator: true if the site's BMS integrator agreed to it"
            )
        return self


class DeviceConfig(StrictModel):
    """One device the agent polls: SNMP (credentials), Modbus TCP (unit_id) or BACnet/IP, as its profile says."""

    name: Name = Field(description="unique device name (the `device` label of its metrics)")
    address: str = Field(description="IP address or host name")
    port: int = Field(
        default=161,
        ge=1,
        le=65535,
        description="SNMP UDP port (161); for Modbus TCP, 502 unless given; for Redfish (HTTPS), 443 unless given",
    )
    credentials: str | None = Field(
        default=None,
        description="SNMP or Redfish: name of an entry under `credentials` used to read (required for both)",
    )
    write_credentials: str | None = Field(
        default=None, description="separate credentials for setpoint SETs (never the read ones)"
    )
    profile: str = Field(description="device profile name (configs/profiles/*.yaml or profile_dirs)")
    role: Role = Field(description="what the device is in the plant")
    zone: Name = Field(default="default", description="hall, room or area (the `zone` label)")
    timeout_s: float = Field(default=2.0, gt=0, le=30, description="request timeout [s] (SNMP, Modbus or Redfish)")
    retries: int = Field(default=1, ge=0, le=5, description="retries after a timeout")
    enabled: bool = Field(default=True, description="false: keep the entry but do not poll it")
    remap: tuple[Remap, ...] = Field(default=(), description="site wiring the profile cannot know")
    unit_id: int | None = Field(
        default=None,
        ge=0,
        le=255,
        description="Modbus devices: the unit id (1 unless given; behind a Modbus TCP/RTU gateway, the RTU "
        "device's address, several devices sharing the gateway's address and port)",
    )
    bacnet: BacnetDeviceSettings | None = Field(
        default=None, description="BACnet/IP devices: setpoint writes (port 47808 unless given)"
    )

    @property
    def writes_setpoints(self) -> bool:
        """Whether guarded writes may go to this device: SNMP write credentials, or BACnet ``writes: true``."""
        return self.write_credentials is not None or (self.bacnet is not None and self.bacnet.writes)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _is_hostname(value):
                raise ValueError(f"not an IP address or host name: {value!r}") from None
        return value


def _is_hostname(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or all(p.isdigit() for p in labels):
        return False
    return all(
        0 < len(p) <= 63 and p[0] != "-" and p[-1] != "-" and all(c.isalnum() or c == "-" for c in p) for p in labels
    )
