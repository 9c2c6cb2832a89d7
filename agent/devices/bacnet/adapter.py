"""The BACnet/IP adapter behind the device seam: :class:`BacnetDevices` reads and writes BACnet profiles.

A device's profile (``protocol: bacnet``) maps object type + instance to canonical quantities; its reads are
batched once per profile (:func:`~agent.devices.bacnet.points.plan_batches`) into ReadPropertyMultiple
requests. A failed request (timeout, Error, Reject, Abort) fails the whole read with a
:class:`~agent.errors.BacnetError` kind: the device is then down and the PUE it feeds invalid, never computed
from a part of it. An object the device refuses, flags as faulty or out of service, or reports in another
unit is one unreadable object with its reason (:func:`~agent.devices.bacnet.points.decode_point`).

Writes go to presentValue at the device's configured priority (``bacnet.write_priority``, 8 by default);
a revert relinquishes that priority (writes NULL) rather than writing an old value, so that the object
falls back to whatever commands it below us (a BMS schedule at 16, the relinquish-default).
"""

from __future__ import annotations

from agent.config.site import DeviceConfig
from agent.devices.bacnet.client import BacnetClient, BacnetTarget, Bacpypes3Client
from agent.devices.bacnet.points import ReadBatch, decode_point, plan_batches, point_of
from agent.devices.profiles import Profile, ProfileObject
from agent.devices.readings import DeviceReadout, Reading, Unreadable, counter_reading
from agent.errors import BacnetProtocolError, DecodeError, DeviceRefusedError

__all__ = ["DEFAULT_BACNET_PORT", "BacnetDevices", "bacnet_target", "write_priority"]

DEFAULT_BACNET_PORT = 47808  # 0xBAC0


def bacnet_target(device: DeviceConfig) -> BacnetTarget:
    """Where a configured device answers BACnet/IP: its port (47808 unless the config gives one)."""
    port = device.port if "port" in device.model_fields_set else DEFAULT_BACNET_PORT
    return BacnetTarget(device.address, port, device.timeout_s, device.retries)


def write_priority(device: DeviceConfig) -> int:
    """The priority the agent writes this device at; refuses a device not configured for writes."""
    if device.bacnet is None or not device.bacnet.writes:
        raise DeviceRefusedError(f"devices({device.name}): BACnet writes are not enabled (bacnet: {{writes: true}})")
    return device.bacnet.write_priority


class BacnetDevices:
    """:class:`~agent.devices.reader.DeviceAdapter` for BACnet/IP devices over one :class:`BacnetClient`."""

    def __init__(self, client: BacnetClient | None = None) -> None:
        self.client: BacnetClient = client or Bacpypes3Client()
        self._plans: dict[str, tuple[ReadBatch, ...]] = {}

    def plan(self, profile: Profile) -> tuple[ReadBatch, ...]:
        plan = self._plans.get(profile.name)
        if plan is None:
            plan = self._plans[profile.name] = plan_batches(profile.objects, profile.bacnet_settings)
        return plan

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        target = bacnet_target(device)
        readings: list[Reading] = []
        unreadable: list[Unreadable] = []
        for batch in self.plan(profile):
            answers = await self.client.read(target, batch.specs())
            for obj in batch.objects:
                labels = tuple(sorted(obj.labels.items()))
                answer = answers.get(point_of(obj).key)
                if answer is None:
                    problem = f"{point_of(obj).key} ({obj.quantity}): not in the device's answer"
                    unreadable.append(Unreadable(obj.quantity, labels, problem))
                    continue
                try:
                    if answer.present_value is not None and obj.means_no_value(
                        int(answer.present_value) if float(answer.present_value).is_integer() else None
                    ):
                        continue
                    value = decode_point(obj, answer)
                except DecodeError as err:
                    unreadable.append(Unreadable(obj.quantity, labels, str(err)))
                    continue
                readings.append(counter_reading(profile, obj, value, labels))
        if not readings:
            raise BacnetProtocolError(
                f"{target}: no object of profile {profile.name!r} could be read: "
                + "; ".join(u.problem for u in unreadable[:5])
            )
        return DeviceReadout(tuple(readings), tuple(u.problem for u in unreadable), tuple(unreadable))

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        """The setpoint's presentValue (canonical), or None when the device does not vouch for one."""
        point = point_of(obj)
        answers = await self.client.read(
            bacnet_target(device), [(point.object_type, point.instance, ReadBatch((obj,)).specs()[0][2])]
        )
        answer = answers.get(point.key)
        if answer is None:
            return None
        try:
            return decode_point(obj, answer)
        except DecodeError:
            return None

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        """WriteProperty presentValue = ``raw`` x ``write_resolution`` (an enum: ``raw``) at the configured priority."""
        point = point_of(obj)
        priority = write_priority(device)
        value = float(raw) if obj.enum is not None else round(raw * point.write_resolution, 9)
        await self.client.write(bacnet_target(device), point.object_type, point.instance, value, priority)

    async def relinquish_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> None:
        """Write NULL at the configured priority: the agent's command is withdrawn, nothing old is written."""
        point = point_of(obj)
        priority = write_priority(device)
        await self.client.write(bacnet_target(device), point.object_type, point.instance, None, priority)

    async def close(self) -> None:
        await self.client.close()
