"""The seam between the site and the protocols: what polling and guarded writes need from a device.

The poller (:mod:`agent.site.poller`) depends on :class:`DeviceReader`, the actuator
(:mod:`agent.control.actuator`) on :class:`SetpointWriter`; neither knows SNMP. Each protocol adapter
(``agent/devices/snmp/``, ``modbus/``, ``bacnet/``) implements both, and
:class:`ByProtocol` routes each device to the adapter its profile names (``protocol:``, SNMP by default).
Adapters raise :class:`~agent.errors.DeviceError` kinds only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from agent.config.site import DeviceConfig
from agent.devices.profiles import Profile, ProfileObject, ProfileRegistry
from agent.devices.readings import DeviceReadout
from agent.errors import ConfigError

__all__ = ["ByProtocol", "DeviceAdapter", "DeviceReader", "SetpointRelinquisher", "SetpointWriter"]


class DeviceReader(Protocol):
    """Reads every object of a device's profile once, as canonical readings."""

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        """One complete read; raises a :class:`~agent.errors.DeviceError` kind when the device fails."""
        ...

    async def close(self) -> None: ...


class SetpointWriter(Protocol):
    """Reads and writes one writable setpoint object of a device's profile (guards live in the caller)."""

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        """The setpoint's present canonical value, or None when the device has none to give."""
        ...

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        """Write the raw value (already planned inside the bounds); raises a DeviceError kind on failure."""
        ...


class SetpointRelinquisher(Protocol):
    """A protocol whose writes are commands at a priority (BACnet): a revert withdraws ours, writing nothing old."""

    async def relinquish_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> None:
        """Withdraw the agent's command of the setpoint (BACnet: write NULL at the configured priority)."""
        ...


class DeviceAdapter(DeviceReader, SetpointWriter, Protocol):
    """One protocol's adapter: reads devices and writes their setpoints."""


class ByProtocol:
    """A :class:`DeviceAdapter` routing each device to the adapter of its profile's ``protocol``."""

    def __init__(self, adapters: Mapping[str, DeviceAdapter], profiles: ProfileRegistry) -> None:
        self._adapters = dict(adapters)
        self._profiles = profiles

    def adapter(self, device: DeviceConfig) -> DeviceAdapter:
        protocol = self._profiles[device.profile].protocol
        try:
            return self._adapters[protocol]
        except KeyError:
            raise ConfigError(
                [
                    f"devices({device.name}): profile {device.profile} speaks {protocol}, for which "
                    f"this agent has no adapter (it has: {', '.join(sorted(self._adapters))})"
                ]
            ) from None

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        return await self.adapter(device).read(device, profile)

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        return await self.adapter(device).read_setpoint(device, obj)

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        await self.adapter(device).write_setpoint(device, obj, raw)

    async def relinquish_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> None:
        adapter = self.adapter(device)
        relinquish = getattr(adapter, "relinquish_setpoint", None)
        if relinquish is None:
            raise ConfigError([f"devices({device.name}): profile {device.profile} has no priorities to relinquish"])
        await relinquish(device, obj)

    async def close(self) -> None:
        for adapter in self._adapters.values():
            await adapter.close()
