"""The Modbus TCP adapter behind the device seam: :class:`ModbusDevices` reads Modbus profiles.

A device's profile (``protocol: modbus``) maps registers to canonical quantities; its reads are planned
once per profile (:func:`~agent.devices.modbus.registers.plan_reads`: as few requests as the register map
allows) and sent in order over the gateway's connection. A failed request fails the whole read with a
:class:`~agent.errors.ModbusError` kind (the device is then down, and the PUE it feeds invalid, never
computed from a part of it); a register that answers but does not decode (NaN, out of the physical range)
is one unreadable object, as with SNMP.
"""

from __future__ import annotations

from agent.config.site import DeviceConfig
from agent.devices.modbus.client import ModbusClient, ModbusTarget, PymodbusClient
from agent.devices.modbus.registers import ReadRequest, decode_registers, plan_reads
from agent.devices.profiles import Profile, ProfileObject
from agent.devices.readings import DeviceReadout, Reading, Unreadable, counter_reading
from agent.errors import DecodeError, DeviceRefusedError, ModbusProtocolError

__all__ = ["DEFAULT_MODBUS_PORT", "ModbusDevices", "modbus_target"]

DEFAULT_MODBUS_PORT = 502


def modbus_target(device: DeviceConfig) -> ModbusTarget:
    """Where a configured device answers Modbus TCP: its port (502 unless the config gives one), unit id."""
    port = device.port if "port" in device.model_fields_set else DEFAULT_MODBUS_PORT
    unit_id = 1 if device.unit_id is None else device.unit_id
    return ModbusTarget(device.address, port, unit_id, device.timeout_s, device.retries)


def decode_request(profile: Profile, request: ReadRequest, words: list[int]) -> tuple[list[Reading], list[Unreadable]]:
    """The readings of one request's objects from the registers it returned (pure)."""
    readings: list[Reading] = []
    unreadable: list[Unreadable] = []
    for obj in request.objects:
        reg = obj.modbus
        assert reg is not None
        offset = reg.address - request.address
        labels = tuple(sorted(obj.labels.items()))
        try:
            number = decode_registers(reg, words[offset : offset + reg.words])
            if obj.means_no_value(int(number) if number.is_integer() else None):
                continue
            value = obj.decode_number(number)
        except DecodeError as err:
            unreadable.append(Unreadable(obj.quantity, labels, f"{reg.function} register {reg.address}: {err}"))
            continue
        readings.append(counter_reading(profile, obj, value, labels))
    return readings, unreadable


class ModbusDevices:
    """:class:`~agent.devices.reader.DeviceAdapter` for Modbus TCP devices over one :class:`ModbusClient`."""

    def __init__(self, client: ModbusClient | None = None) -> None:
        self.client: ModbusClient = client or PymodbusClient()
        self._plans: dict[str, tuple[ReadRequest, ...]] = {}

    def plan(self, profile: Profile) -> tuple[ReadRequest, ...]:
        plan = self._plans.get(profile.name)
        if plan is None:
            plan = self._plans[profile.name] = plan_reads(profile.objects, profile.modbus_settings)
        return plan

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        target = modbus_target(device)
        readings: list[Reading] = []
        unreadable: list[Unreadable] = []
        for request in self.plan(profile):
            words = await self.client.read(target, request.function, request.address, request.count)
            got, bad = decode_request(profile, request, words)
            readings += got
            unreadable += bad
        if not readings:
            raise ModbusProtocolError(
                f"{target}: no object of profile {profile.name!r} could be read: "
                + "; ".join(u.problem for u in unreadable[:5])
            )
        return DeviceReadout(tuple(readings), tuple(u.problem for u in unreadable), tuple(unreadable))

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        return None  # Modbus profiles declare no writable setpoints (agent.devices.profiles refuses them)

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        raise DeviceRefusedError(f"devices({device.name}): Modbus setpoint writes are not supported")

    async def close(self) -> None:
        await self.client.close()
