"""Simulated BACnet/IP devices: a real bacpypes3 device serving a profile's point list from the twin's truth.

A :class:`BacnetServedDevice` is one bacpypes3 application (a BACnet device object plus one object per
profile point) on its own UDP (host, port): a chilled-water plant controller, a CRAH. Measured points are
written from canonical values through the profile (the inverse of the agent's decoding); writable points
are commandable objects with a real priority array, whose relinquish-default is the plant's own setpoint:
a write at priority 8 changes presentValue (and the twin's plant follows it), a NULL at 8 returns it to the
relinquish-default. A stopped device keeps its socket and answers nothing (a device gone silent, not a
closed port); :meth:`BacnetServedDevice.fault` sets a point's reliability and its statusFlags fault bit.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from bacpypes3.basetypes import BinaryPV, EngineeringUnits, Reliability, StatusFlags
from bacpypes3.ipv4.app import NormalApplication
from bacpypes3.local.analog import AnalogInputObject, AnalogOutputObject, AnalogValueObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryInputObject, BinaryOutputObject, BinaryValueObject, BinaryValueObjectCmd
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.multistate import MultiStateInputObject, MultiStateOutputObject, MultiStateValueObject
from bacpypes3.pdu import IPv4Address

from agent.devices.bacnet.client import bound_port
from agent.devices.profiles import Profile, ProfileObject

__all__ = ["BacnetServedDevice", "TwinBacnetApplication"]

logging.getLogger("bacpypes3").setLevel(logging.CRITICAL)

#: object type -> (read-only class, commandable class)
_CLASSES: dict[str, tuple[Any, Any]] = {
    "analog-input": (AnalogInputObject, AnalogInputObject),
    "analog-output": (AnalogOutputObject, AnalogOutputObject),
    "analog-value": (AnalogValueObject, AnalogValueObjectCmd),
    "binary-input": (BinaryInputObject, BinaryInputObject),
    "binary-output": (BinaryOutputObject, BinaryOutputObject),
    "binary-value": (BinaryValueObject, BinaryValueObjectCmd),
    "multi-state-input": (MultiStateInputObject, MultiStateInputObject),
    "multi-state-output": (MultiStateOutputObject, MultiStateOutputObject),
    "multi-state-value": (MultiStateValueObject, MultiStateValueObject),
}


class TwinBacnetApplication(NormalApplication):  # type: ignore[misc]
    """A bacpypes3 device that counts the requests it answers and can fall silent."""

    muted = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: confirmed requests answered, by APDU class name (ReadPropertyMultipleRequest, WritePropertyRequest)
        self.requests: Counter[str] = Counter()
        # a muted device drops what arrives before bacpypes3 opens a server transaction for it: a transaction
        # left waiting would make a later request with the same source and invoke id look like a duplicate
        arrived = self.asap.confirmation

        async def confirmation(pdu: Any) -> None:
            if not self.muted:
                await arrived(pdu)

        self.asap.confirmation = confirmation

    async def indication(self, apdu: Any) -> None:
        self.requests[type(apdu).__name__] += 1
        await super().indication(apdu)


def _wire(obj: ProfileObject, value: float) -> Any:
    """presentValue of canonical ``value`` for one profile object (the inverse of the agent's decoding)."""
    assert obj.bacnet is not None
    raw = obj.encode(value) if obj.enum is not None else (value - obj.offset) / obj.scale
    kind = obj.bacnet.object_type
    if kind.startswith("binary"):
        return BinaryPV("active" if raw else "inactive")
    if kind.startswith("multi-state"):
        return round(raw)
    return float(raw)


class BacnetServedDevice:
    """One simulated BACnet/IP device serving ``profile`` (the twin's ``ProfiledDevice`` interface)."""

    def __init__(
        self,
        name: str,
        profile: Profile,
        host: str,
        port: int,
        device_instance: int,
        on_setpoint: Callable[[str, float], None] | None = None,
    ) -> None:
        self.name = name
        self.profile = profile
        self.host = host
        self.port = port
        self.device_instance = device_instance
        self._on_setpoint = on_setpoint
        self.app: TwinBacnetApplication | None = None
        self.objects: dict[str, Any] = {}
        self._seeded: set[str] = set()
        self.agent = self  # what SimulatedSite starts and stops

    # --- lifecycle ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.app is not None and not self.app.muted

    def start(self) -> int:
        """Answer (from inside the running event loop): bind the socket on first start, unmute after a stop."""
        if self.app is None:
            if self.port:  # bacpypes3 retries a taken port forever in its own task: find out here, by name
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as bacpypes3 binds
                    probe.bind((self.host, self.port))
            self._build()
        assert self.app is not None
        self.app.muted = False
        return self.port

    def stop(self) -> None:
        """Fall silent: the socket stays bound, requests go unanswered (a device that stopped answering)."""
        if self.app is not None:
            self.app.muted = True

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None

    async def ready(self) -> None:
        """Wait until the socket is bound; ``port`` 0 becomes the ephemeral port it got."""
        if self.app is not None:
            self.port = await bound_port(self.app)

    def _build(self) -> None:
        device = DeviceObject(
            objectIdentifier=("device", self.device_instance),
            objectName=self.name,
            vendorIdentifier=0,
            modelName=f"pue-agent twin: {self.profile.description}"[:64],
            maxApduLengthAccepted=1476,
            segmentationSupported="noSegmentation",
        )
        app = TwinBacnetApplication(device, IPv4Address(f"{self.host}:{self.port}"))
        for obj in self.profile.objects:
            point = obj.bacnet
            assert point is not None
            if point.key in self.objects:
                continue
            cls = _CLASSES[point.object_type][1 if obj.writable is not None else 0]
            kwargs: dict[str, Any] = {
                "objectIdentifier": (point.object_type, point.instance),
                "objectName": f"{obj.quantity}-{point.instance}",
                "statusFlags": StatusFlags([0, 0, 0, 0]),
                "reliability": Reliability("no-fault-detected"),
                "outOfService": False,
            }
            if point.object_type.startswith("analog"):
                kwargs["presentValue"] = 0.0
                kwargs["units"] = EngineeringUnits(point.units or "no-units")
            elif point.object_type.startswith("binary"):
                kwargs["presentValue"] = BinaryPV("inactive")
            else:
                kwargs["presentValue"] = 1
                kwargs["numberOfStates"] = 16
            if obj.writable is not None:
                start = obj.writable.min if obj.enum is None else next(iter(obj.enum.values()))
                kwargs["relinquishDefault"] = _wire(obj, start)
            bobj = cls(**kwargs)
            if obj.writable is not None:
                self._watch(bobj, obj)
            app.add_object(bobj)
            self.objects[point.key] = bobj
        self.app = app

    def _watch(self, bobj: Any, obj: ProfileObject) -> None:
        """Tell the plant when a command (a write or a relinquish) changes a setpoint's presentValue."""
        recalculate = bobj.recalculating

        def recalculating() -> None:
            recalculate()
            if self._on_setpoint is not None:
                self._on_setpoint(obj.quantity, self._canonical(obj, bobj.presentValue))

        object.__setattr__(bobj, "recalculating", recalculating)

    @staticmethod
    def _canonical(obj: ProfileObject, pv: Any) -> float:
        number = float(int(pv)) if not isinstance(pv, float) else float(pv)
        if obj.enum is not None:
            return float(obj.enum.get(int(number), number))
        return number * obj.scale + obj.offset

    # --- the truth ---------------------------------------------------------------------------------
    def publish(
        self,
        values: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
        uptime_s: float,
        defaults: Mapping[str, float] | None = None,
    ) -> None:
        """Write canonical values ``{(quantity, labels): value}`` into the objects via the profile.

        A writable point's value is its relinquish-default (the plant's own setpoint), set on the first
        publish only: afterwards the priority array decides, as on a real controller.
        """
        if self.app is None:
            return
        for obj in self.profile.objects:
            assert obj.bacnet is not None
            value = values.get((obj.quantity, tuple(sorted(obj.labels.items()))))
            if value is None and defaults is not None:
                value = defaults.get(obj.quantity)
            if value is None:
                continue
            bobj = self.objects[obj.bacnet.key]
            if obj.writable is not None:
                if obj.bacnet.key not in self._seeded:
                    self._seeded.add(obj.bacnet.key)
                    self.set_relinquish_default(obj.quantity, value)
                continue
            bobj.presentValue = _wire(obj, value)

    def set_relinquish_default(self, quantity: str, value: float) -> None:
        obj = self.profile.writable(quantity)
        assert obj is not None and obj.bacnet is not None
        bobj = self.objects[obj.bacnet.key]
        bobj.relinquishDefault = _wire(obj, value)
        bobj.recalculating()

    def setpoint(self, quantity: str) -> float | None:
        """The setpoint's presentValue (canonical), as the priority array makes it."""
        obj = self.profile.writable(quantity)
        if obj is None or obj.bacnet is None or obj.bacnet.key not in self.objects:
            return None
        return self._canonical(obj, self.objects[obj.bacnet.key].presentValue)

    def commanded_priority(self, quantity: str) -> int | None:
        """The priority currently commanding a setpoint (None: the relinquish-default)."""
        obj = self.profile.writable(quantity)
        assert obj is not None and obj.bacnet is not None
        current = self.objects[obj.bacnet.key].currentCommandPriority
        return None if current is None or current.null is not None else int(current.unsigned)

    def fault(self, quantity: str, reliability: str = "unreliable-other") -> None:
        """Flag the first point of ``quantity`` as faulty (``no-fault-detected`` clears it)."""
        obj = next(o for o in self.profile.objects if o.quantity == quantity)
        assert obj.bacnet is not None
        bobj = self.objects[obj.bacnet.key]
        bobj.reliability = Reliability(reliability)
        bobj.statusFlags = StatusFlags([0, 0 if reliability == "no-fault-detected" else 1, 0, 0])
