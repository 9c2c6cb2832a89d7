"""BACnet addressing in a profile: object type and instance, expected units, ReadPropertyMultiple batching."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.devices.profiles.base import StrictModel

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


class BacnetPoint(StrictModel):
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


class BacnetSettings(StrictModel):
    """How a BACnet profile's objects are batched into ReadPropertyMultiple requests."""

    max_objects_per_request: int = Field(
        default=16,
        ge=1,
        le=100,
        description="objects one ReadPropertyMultiple asks for (3-4 properties each; 16 fit a 480-octet APDU "
        "unsegmented, the smallest BACnet/IP devices accept)",
    )
