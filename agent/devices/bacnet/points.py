"""BACnet points, pure: the batching plan of a profile, and a point's answer into a canonical value or a problem.

No I/O and no BACnet library: :mod:`agent.devices.bacnet.client` sends the plan's ReadPropertyMultiple
requests and hands back each object's answer as a :class:`PointAnswer` of plain Python values.

A point is read only when the device vouches for it (:func:`decode_point`): an Error for the object
(unknown-object), the statusFlags ``fault`` or ``out-of-service`` bit, a ``reliability`` other than
no-fault-detected, or ``units`` other than the profile's make it an unreadable object with the reason, never
a value. ``in-alarm`` and ``overridden`` do not: the value is still the sensor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.devices.profiles import BacnetPoint, BacnetSettings, ProfileObject
from agent.errors import DecodeError

__all__ = ["READ_PROPERTIES", "PointAnswer", "ReadBatch", "decode_point", "plan_batches", "point_of", "properties_of"]

#: what every point is asked for (``units`` too when the profile names the expected unit)
READ_PROPERTIES = ("present-value", "status-flags", "reliability")

#: statusFlags bits (ASHRAE 135 clause 12.x.y: BACnetStatusFlags)
_IN_ALARM, _FAULT, _OVERRIDDEN, _OUT_OF_SERVICE = range(4)


@dataclass(frozen=True, slots=True)
class PointAnswer:
    """One object's answer to a ReadPropertyMultiple, as plain values (the client converts bacpypes3's).

    ``error`` is set when the device refused the object's presentValue (``"object: unknown-object"``);
    ``reliability`` and ``units`` are None when the object has no such property.
    """

    present_value: float | None
    status_flags: tuple[bool, ...] | None = None
    reliability: str | None = None
    units: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """One ReadPropertyMultiple: the objects of a profile it asks for, in order."""

    objects: tuple[ProfileObject, ...]

    def specs(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """``(object type, instance, properties)`` of every distinct object of the batch."""
        out: list[tuple[str, int, tuple[str, ...]]] = []
        seen: set[str] = set()
        for obj in self.objects:
            point = point_of(obj)
            if point.key not in seen:
                seen.add(point.key)
                out.append((point.object_type, point.instance, properties_of(point)))
        return out


def point_of(obj: ProfileObject) -> BacnetPoint:
    assert obj.bacnet is not None, f"{obj.quantity}: not a BACnet object"
    return obj.bacnet


def properties_of(point: BacnetPoint) -> tuple[str, ...]:
    return (*READ_PROPERTIES, "units") if point.units is not None else READ_PROPERTIES


def plan_batches(objects: Sequence[ProfileObject], settings: BacnetSettings) -> tuple[ReadBatch, ...]:
    """The profile's objects in ReadPropertyMultiple requests of at most ``max_objects_per_request`` each."""
    size = settings.max_objects_per_request
    return tuple(ReadBatch(tuple(objects[i : i + size])) for i in range(0, len(objects), size))


def decode_point(obj: ProfileObject, answer: PointAnswer) -> float:
    """The canonical value of one object's answer.

    Raises
    ------
    DecodeError
        the device refused the object, flags it as faulty or out of service, reports a reliability
        problem or another unit, or the value is outside the profile's range.
    """
    point = point_of(obj)
    where = f"{point.key} ({obj.quantity})"
    if answer.error is not None:
        raise DecodeError(f"{where}: the device answered an error: {answer.error}")
    flags = answer.status_flags or ()
    if len(flags) > _FAULT and flags[_FAULT]:
        raise DecodeError(f"{where}: statusFlags fault (reliability {answer.reliability or 'not given'})")
    if answer.reliability not in (None, "no-fault-detected"):
        raise DecodeError(f"{where}: reliability {answer.reliability}")
    if len(flags) > _OUT_OF_SERVICE and flags[_OUT_OF_SERVICE]:
        raise DecodeError(f"{where}: out of service (presentValue is not the sensor's)")
    if point.units is not None and answer.units != point.units:
        raise DecodeError(f"{where}: units {answer.units or 'not given'}, the profile expects {point.units}")
    if answer.present_value is None:
        raise DecodeError(f"{where}: no presentValue")
    return obj.decode_number(float(answer.present_value))
