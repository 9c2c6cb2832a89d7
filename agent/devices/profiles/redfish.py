"""Redfish addressing in a profile: a resource under the chassis and a JSON pointer into it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from agent.devices.profiles.base import StrictModel


class RedfishProperty(StrictModel):
    """Where a Redfish profile object lives: a resource under the server's chassis and a JSON pointer into it.

    ``resource`` is a path relative to the chassis (``/redfish/v1/Chassis/{id}/``): ``Power`` (the
    deprecated but widest-spread Power resource), ``EnvironmentMetrics``, ``PowerSubsystem``; ``pointer`` an
    RFC 6901 JSON pointer into its body (``/PowerControl/0/PowerConsumedWatts``, ``/PowerWatts/Reading``).
    A property that is absent or ``null`` (Redfish's "no reading") fails the device's read unless the object
    is ``optional``: a server whose input power cannot be read is down, never counted as 0 W.

    A ``*`` segment stands for every member of the collection reached there (``PowerSubsystem/PowerSupplies/
    */Metrics``: each power supply's metrics), one reading per member, labelled ``member_label`` = its ``Id``.
    """

    resource: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/([A-Za-z0-9][A-Za-z0-9_.-]*|\*))*$")] = Field(
        description="resource path under the chassis, e.g. Power or EnvironmentMetrics"
    )
    pointer: Annotated[str, Field(pattern=r"^(/[^/]*)+$")] = Field(
        description="JSON pointer (RFC 6901) to the number inside the resource, e.g. /PowerWatts/Reading"
    )
    member_label: str | None = Field(
        default=None, description="with a '*' in resource: the label holding each collection member's Id"
    )

    @model_validator(mode="after")
    def _members(self) -> RedfishProperty:
        stars = self.resource.split("/").count("*")
        if stars > 1:
            raise ValueError(f"resource {self.resource!r}: at most one '*' (one collection's members)")
        if (stars == 1) != (self.member_label is not None):
            raise ValueError("a '*' in resource and a member_label go together (the label tells members apart)")
        return self

    def tokens(self) -> tuple[str, ...]:
        """The pointer's reference tokens, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
        return tuple(t.replace("~1", "/").replace("~0", "~") for t in self.pointer.split("/")[1:])
