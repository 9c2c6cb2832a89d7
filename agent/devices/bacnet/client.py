"""The BACnet/IP client behind the seam: ReadPropertyMultiple and WriteProperty over bacpypes3, errors translated here.

:class:`BacnetClient` is the narrow Protocol the adapter uses (``read``, ``write``, ``close``);
:class:`Bacpypes3Client` runs one bacpypes3 application (a BACnet device of its own, instance 4194300 by
default) on one UDP socket and talks to every device from it. bacpypes3's answers become plain values
(:class:`~agent.devices.bacnet.points.PointAnswer`) and its errors :class:`~agent.errors.BacnetError` kinds
here and nowhere else:

- no answer within ``timeout_s``, ``1 + retries`` times: BacnetTimeoutError (the agent's own clock:
  bacpypes3's APDU timer is set far beyond it, so that one device's timeout and retries are the config's);
- an Error PDU for a read (e.g. ``property: unknown-property`` for the whole request): BacnetExceptionError;
- a Reject or Abort PDU (``segmentation-not-supported``: fewer objects per request), or an answer that is not
  a ReadPropertyMultiple-ACK: BacnetProtocolError;
- any Error, Reject or Abort answering a WriteProperty: BacnetWriteRefusedError.

An object the device does not have is not a failed request: ReadPropertyMultiple answers it with an error
for that object alone (``object: unknown-object``), which the adapter reports as an unreadable object.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bacpypes3.apdu import AbortPDU, ErrorPDU, ErrorRejectAbortNack, RejectPDU
from bacpypes3.basetypes import BinaryPV, ErrorType
from bacpypes3.ipv4.app import NormalApplication
from bacpypes3.local.device import DeviceObject
from bacpypes3.pdu import Address, IPv4Address
from bacpypes3.primitivedata import Null, ObjectIdentifier, PropertyIdentifier, Real, Unsigned

from agent.devices.bacnet.points import PointAnswer
from agent.errors import BacnetExceptionError, BacnetProtocolError, BacnetTimeoutError, BacnetWriteRefusedError

__all__ = [
    "AGENT_DEVICE_INSTANCE",
    "BacnetClient",
    "BacnetTarget",
    "Bacpypes3Client",
    "bound_port",
    "present_value_of",
]

#: the agent's own BACnet device instance (a site with another device at this instance configures another)
AGENT_DEVICE_INSTANCE = 4194300

# bacpypes3 logs a warning for every property it has no type for; the agent reports each device's problem once
logging.getLogger("bacpypes3").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class BacnetTarget:
    """Where one BACnet/IP device answers, and how long to wait for it."""

    host: str
    port: int = 47808
    timeout_s: float = 2.0
    retries: int = 1

    def __str__(self) -> str:
        return f"bacnet://{self.host}:{self.port}"


class BacnetClient(Protocol):
    """The narrow seam the BACnet adapter goes through."""

    async def read(
        self, target: BacnetTarget, specs: Sequence[tuple[str, int, tuple[str, ...]]]
    ) -> dict[str, PointAnswer]:
        """One ReadPropertyMultiple of ``(object type, instance, properties)``; answers by ``"type,instance"``."""
        ...

    async def write(
        self, target: BacnetTarget, object_type: str, instance: int, value: float | None, priority: int
    ) -> None:
        """WriteProperty presentValue at ``priority`` (``value`` None: relinquish, i.e. write NULL)."""
        ...

    async def close(self) -> None: ...


async def bound_port(app: NormalApplication) -> int:
    """The UDP port a bacpypes3 application listens on, once its socket is bound (port 0: the one it got)."""
    server = app.normal.server
    await server._local_transport_ready.wait()  # bacpypes3 binds in a task; it exposes no other readiness
    return int(server.local_transport.get_extra_info("sockname")[1])


def _error_text(err: Any) -> str:
    if isinstance(err, ErrorPDU) or isinstance(err, ErrorType):
        return f"{err.errorClass}: {err.errorCode}"
    if isinstance(err, (RejectPDU, AbortPDU)):
        return f"{'reject' if isinstance(err, RejectPDU) else 'abort'}: {err.apduAbortRejectReason}"
    return repr(err)


def present_value_of(value: Any) -> float | None:
    """A presentValue as a number: REAL as is, BinaryPV inactive/active as 0/1, an enumeration or Unsigned as int."""
    if value is None or isinstance(value, Null):
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


class Bacpypes3Client:
    """:class:`BacnetClient` over one bacpypes3 application (created on first use, inside the running loop)."""

    def __init__(
        self, local_host: str = "0.0.0.0", local_port: int = 0, device_instance: int = AGENT_DEVICE_INSTANCE
    ) -> None:
        self._local = (local_host, local_port)
        self._device_instance = device_instance
        self._app: NormalApplication | None = None
        #: confirmed requests sent, retries included (for benchmarks and tests counting the batching)
        self.requests = 0

    def _application(self) -> NormalApplication:
        if self._app is None:
            host, port = self._local
            device = DeviceObject(
                objectIdentifier=("device", self._device_instance),
                objectName=f"pue-agent-{self._device_instance}",
                vendorIdentifier=0,
                maxApduLengthAccepted=1476,
                segmentationSupported="segmentedBoth",
                apduTimeout=600_000,  # the agent's timeout governs (module docstring)
                numberOfApduRetries=0,
            )
            # port 0: an ephemeral port (devices answer the port a request came from); bacpypes3 binds it
            self._app = NormalApplication(device, IPv4Address(f"{host}:{port}"))
        return self._app

    async def local_port(self) -> int:
        """The UDP port the client sends from (bound on first use)."""
        return await bound_port(self._application())

    async def _confirmed(self, target: BacnetTarget, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call`` with the target's timeout and retries; an Error/Reject/Abort is returned, not raised."""
        for _attempt in range(1 + target.retries):
            self.requests += 1
            try:
                return await asyncio.wait_for(call(), target.timeout_s)
            except TimeoutError:
                continue
            except ErrorRejectAbortNack as err:
                return err
        raise BacnetTimeoutError(
            f"{target}: {what}: no answer within {target.timeout_s:g} s x {1 + target.retries} tries"
        )

    async def read(
        self, target: BacnetTarget, specs: Sequence[tuple[str, int, tuple[str, ...]]]
    ) -> dict[str, PointAnswer]:
        app = self._application()
        address = Address(f"{target.host}:{target.port}")
        parameters: list[Any] = []
        for object_type, instance, properties in specs:
            parameters.append(ObjectIdentifier(f"{object_type},{instance}"))
            parameters.append([PropertyIdentifier(p) for p in properties])
        what = f"ReadPropertyMultiple of {len(specs)} object(s)"
        result = await self._confirmed(target, what, lambda: app.read_property_multiple(address, list(parameters)))
        if isinstance(result, ErrorPDU):
            text = _error_text(result)
            error_class, _, error_code = text.partition(": ")
            raise BacnetExceptionError(f"{target}: {what}: error {text}", error_class, error_code)
        if isinstance(result, (RejectPDU, AbortPDU)):
            hint = (
                " (fewer objects per request: bacnet.max_objects_per_request)"
                if "segment" in _error_text(result)
                else ""
            )
            raise BacnetProtocolError(f"{target}: {what}: {_error_text(result)}{hint}")
        if not isinstance(result, list):
            raise BacnetProtocolError(f"{target}: {what}: not a ReadPropertyMultiple-ACK: {result!r}")
        props: dict[str, dict[str, Any]] = {}
        for object_id, property_id, _index, value in result:
            props.setdefault(f"{object_id[0]},{object_id[1]}", {})[str(property_id)] = value
        answers: dict[str, PointAnswer] = {}
        for key, got in props.items():
            pv = got.get("present-value")
            if isinstance(pv, ErrorType):
                answers[key] = PointAnswer(None, error=_error_text(pv))
                continue
            flags = got.get("status-flags")
            reliability = got.get("reliability")
            units = got.get("units")
            answers[key] = PointAnswer(
                present_value_of(pv),
                tuple(bool(b) for b in flags) if flags is not None and not isinstance(flags, ErrorType) else None,
                None if reliability is None or isinstance(reliability, ErrorType) else str(reliability),
                None if units is None or isinstance(units, ErrorType) else str(units),
            )
        return answers

    async def write(
        self, target: BacnetTarget, object_type: str, instance: int, value: float | None, priority: int
    ) -> None:
        app = self._application()
        address = Address(f"{target.host}:{target.port}")
        wire: Any
        if value is None:
            wire = Null(())
        elif object_type.startswith("binary"):
            wire = BinaryPV(int(value))
        elif object_type.startswith("multi-state"):
            wire = Unsigned(int(value))
        else:
            wire = Real(value)
        what = f"WriteProperty {object_type},{instance} presentValue={'NULL' if value is None else value} @{priority}"
        result = await self._confirmed(
            target,
            what,
            lambda: app.write_property(
                address,
                ObjectIdentifier(f"{object_type},{instance}"),
                PropertyIdentifier("presentValue"),
                wire,
                priority=priority,
            ),
        )
        if isinstance(result, ErrorRejectAbortNack):
            raise BacnetWriteRefusedError(f"{target}: {what}: refused: {_error_text(result)}")
        if result is not None:
            raise BacnetWriteRefusedError(f"{target}: {what}: not acknowledged: {result!r}")

    # --- discovery (agent.devices.bacnet.discover) -----------------------------------------------
    async def who_is(self, host: str, port: int, timeout_s: float = 2.0) -> list[tuple[str, int]]:
        """Who-Is sent to ``host:port`` (a unicast address, or a subnet's broadcast): ``(address, instance)`` of
        every device that answered I-Am within ``timeout_s``."""
        app = self._application()
        i_ams = await app.who_is(address=Address(f"{host}:{port}"), timeout=timeout_s)
        return sorted((str(i_am.pduSource), int(i_am.iAmDeviceIdentifier[1])) for i_am in i_ams)

    async def object_list(self, target: BacnetTarget, device_instance: int) -> list[tuple[str, int]]:
        """The device object's objectList, whole, or element by element when the device cannot send it whole."""
        app = self._application()
        address = Address(f"{target.host}:{target.port}")
        device = ObjectIdentifier(f"device,{device_instance}")
        prop = PropertyIdentifier("objectList")
        what = f"ReadProperty device,{device_instance} objectList"
        whole = await self._confirmed(target, what, lambda: app.read_property(address, device, prop))
        if isinstance(whole, list):
            return [(str(o[0]), int(o[1])) for o in whole]
        count = await self._confirmed(target, what + "[0]", lambda: app.read_property(address, device, prop, 0))
        if not isinstance(count, int):
            raise BacnetProtocolError(f"{target}: {what}: {_error_text(count)}")
        out: list[tuple[str, int]] = []
        for index in range(1, count + 1):
            got = await self._confirmed(
                target, f"{what}[{index}]", functools.partial(app.read_property, address, device, prop, index)
            )
            if isinstance(got, ErrorRejectAbortNack) or got is None:
                raise BacnetProtocolError(f"{target}: {what}[{index}]: {_error_text(got)}")
            out.append((str(got[0]), int(got[1])))
        return out

    async def names_and_units(
        self, target: BacnetTarget, objects: Sequence[tuple[str, int]]
    ) -> dict[str, tuple[str | None, str | None]]:
        """``objectName`` and ``units`` (None where the object has none) by ``"type,instance"``."""
        app = self._application()
        address = Address(f"{target.host}:{target.port}")
        out: dict[str, tuple[str | None, str | None]] = {}
        for start in range(0, len(objects), 16):
            parameters: list[Any] = []
            for object_type, instance in objects[start : start + 16]:
                parameters.append(ObjectIdentifier(f"{object_type},{instance}"))
                props = ["objectName", "units"] if object_type.startswith("analog") else ["objectName"]
                parameters.append([PropertyIdentifier(p) for p in props])
            result = await self._confirmed(
                target,
                "ReadPropertyMultiple objectName, units",
                functools.partial(app.read_property_multiple, address, parameters),
            )
            if not isinstance(result, list):
                raise BacnetProtocolError(f"{target}: ReadPropertyMultiple objectName, units: {_error_text(result)}")
            for object_id, property_id, _index, value in result:
                key = f"{object_id[0]},{object_id[1]}"
                name, units = out.get(key, (None, None))
                text = None if value is None or isinstance(value, ErrorType) else str(value)
                if str(property_id) == "object-name":
                    name = text
                else:
                    units = text
                out[key] = (name, units)
        return out

    async def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
