"""The Redfish adapter behind the device seam: :class:`RedfishDevices` reads server power from a BMC.

A device's profile (``protocol: redfish``) names, per object, a resource under the server's chassis
(``Power``, ``EnvironmentMetrics``, ``PowerSubsystem``) and a JSON pointer into it. The adapter follows the
links the BMC gives (``/redfish/v1/Chassis`` -> a member -> its ``Power`` link), as DSP0266 asks of clients,
rather than building URIs; the resolved URIs are kept per device until the BMC answers 404 for one.
Each resource is fetched once per poll, however many objects it holds.

A read fails as a whole (the device is down, the PUE it feeds invalid, never computed from a part of it)
when the BMC answers an error, a body that is not JSON, or a resource without a property a required object
reads (absent or ``null``, Redfish's "no reading"); a number outside the object's physical range is one
unreadable object, as with SNMP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agent.config.site import DeviceConfig, RedfishCredentials, SiteConfig
from agent.devices.profiles import Profile, ProfileObject
from agent.devices.readings import DeviceReadout, Reading, Unreadable, counter_reading
from agent.devices.redfish.client import SERVICE_ROOT, RedfishClient, RedfishTarget, UrllibRedfishClient
from agent.errors import ConfigError, DecodeError, DeviceRefusedError, RedfishProtocolError

__all__ = ["DEFAULT_REDFISH_PORT", "RedfishDevices", "json_pointer", "redfish_target"]

DEFAULT_REDFISH_PORT = 443

_MISSING = object()


def redfish_target(cfg: SiteConfig, device: DeviceConfig) -> RedfishTarget:
    """Where a configured device's BMC answers (443 unless the config gives a port) and its account."""
    cred = cfg.credentials.get(device.credentials or "")
    if not isinstance(cred, RedfishCredentials):
        raise ConfigError([f"devices({device.name}).credentials: a Redfish device needs protocol: redfish ones"])
    port = device.port if "port" in device.model_fields_set else DEFAULT_REDFISH_PORT
    return RedfishTarget(
        device.address,
        port,
        cred.user,
        cred.password,
        cred.auth,
        cred.ca_file,
        cred.verify,
        device.timeout_s,
        device.retries,
    )


def json_pointer(body: Any, tokens: tuple[str, ...]) -> Any:
    """The value at an RFC 6901 pointer's tokens, or ``_MISSING`` (pure)."""
    node = body
    for token in tokens:
        if isinstance(node, Mapping):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node) or (token != "0" and token.startswith("0")):
                return _MISSING
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _link(body: Mapping[str, Any], name: str) -> str | None:
    """The ``@odata.id`` of a navigation property (``"Power": {"@odata.id": "..."}``), or None."""
    ref = body.get(name)
    uri = ref.get("@odata.id") if isinstance(ref, Mapping) else None
    return uri if isinstance(uri, str) and uri.startswith("/") else None


def decode_resource(
    target: str,
    profile: Profile,
    objects: list[ProfileObject],
    uri: str,
    body: Mapping[str, Any],
    member: str | None = None,
) -> tuple[list[Reading], list[Unreadable]]:
    """The readings of one resource's objects (pure); a required property absent or null fails the read.

    ``member``: the collection member's Id the resource belongs to (a ``*`` resource), as ``member_label``.
    """
    readings: list[Reading] = []
    unreadable: list[Unreadable] = []
    for obj in objects:
        prop = obj.redfish
        assert prop is not None
        own = dict(obj.labels)
        if prop.member_label is not None and member is not None:
            own[prop.member_label] = member
        labels = tuple(sorted(own.items()))
        value = json_pointer(body, prop.tokens())
        if value is _MISSING or value is None:
            if obj.optional:
                continue
            state = "null (no reading)" if value is None else "absent"
            raise RedfishProtocolError(f"{target}: GET {uri}: {prop.pointer} is {state}: {obj.quantity} not read")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RedfishProtocolError(f"{target}: GET {uri}: {prop.pointer} is {value!r}, not a number")
        try:
            number = float(value)
            if not math.isfinite(number):
                raise DecodeError(f"{obj.quantity}: the BMC sent {number}")
            readings.append(counter_reading(profile, obj, obj.decode_number(number), labels))
        except DecodeError as err:
            unreadable.append(Unreadable(obj.quantity, labels, f"{uri} {prop.pointer}: {err}"))
    return readings, unreadable


class RedfishDevices:
    """:class:`~agent.devices.reader.DeviceAdapter` for servers' BMCs over one :class:`RedfishClient`."""

    def __init__(self, cfg: SiteConfig | None, client: RedfishClient | None = None) -> None:
        self._cfg = cfg
        self.client: RedfishClient = client or UrllibRedfishClient()
        #: device name -> resource path (``Power``) -> the (member Id, URI) it resolves to: one, or one per
        #: member of a ``*`` collection
        self._uris: dict[str, dict[str, list[tuple[str | None, str]]]] = {}

    async def _members(self, target: RedfishTarget, uri: str) -> list[tuple[str, Mapping[str, Any]]]:
        """Each member of the collection at ``uri``: its Id (or its URI's last segment) and its body."""
        collection = await self.client.get(target, uri)
        members = collection.get("Members")
        if not isinstance(members, list):
            raise RedfishProtocolError(f"{target}: GET {uri}: not a collection (no Members)")
        out: list[tuple[str, Mapping[str, Any]]] = []
        for ref in members:
            link = ref.get("@odata.id") if isinstance(ref, Mapping) else None
            if isinstance(link, str) and link.startswith("/"):
                body = await self.client.get(target, link)
                ident = body.get("Id")
                out.append((ident if isinstance(ident, str) else link.rstrip("/").rsplit("/", 1)[-1], body))
        return out

    async def _follow(
        self, target: RedfishTarget, body: Mapping[str, Any], parts: list[str]
    ) -> list[tuple[str | None, str]]:
        """Follow ``parts`` (navigation properties; a ``*``: every member) from ``body``: (member Id, URI) found."""
        uri = _link(body, parts[0])
        for i, part in enumerate(parts[1:], start=1):
            if uri is None:
                return []
            if part == "*":
                found: list[tuple[str | None, str]] = []
                for member, member_body in await self._members(target, uri):
                    if i + 1 == len(parts):
                        link = member_body.get("@odata.id")
                        found += [(member, link)] if isinstance(link, str) else []
                    else:
                        found += [(member, u) for _, u in await self._follow(target, member_body, parts[i + 1 :])]
                return found
            uri = _link(await self.client.get(target, uri), part)
        return [] if uri is None else [(None, uri)]

    async def _resolve(
        self, name: str, target: RedfishTarget, resources: list[str]
    ) -> dict[str, list[tuple[str | None, str]]]:
        """The URIs of each resource: under the first chassis member that links it (links followed, not built)."""
        known = self._uris.setdefault(name, {})
        if all(r in known for r in resources):
            return known
        chassis = await self._members(target, f"{SERVICE_ROOT}/Chassis")
        if not chassis:
            raise RedfishProtocolError(f"{target}: GET {SERVICE_ROOT}/Chassis: no Members (a BMC with no chassis?)")
        for resource in resources:
            if resource in known:
                continue
            for _, body in chassis:
                found = await self._follow(target, body, resource.split("/"))
                if found:
                    known[resource] = found
                    break
        return known

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        if self._cfg is None:
            raise ConfigError([f"devices({device.name}): no site config to take its Redfish credentials from"])
        return await self.read_target(device.name, redfish_target(self._cfg, device), profile)

    async def read_target(self, name: str, target: RedfishTarget, profile: Profile) -> DeviceReadout:
        """One read of the BMC at ``target`` through ``profile`` (``name`` keys its resolved URIs)."""
        by_resource: dict[str, list[ProfileObject]] = {}
        for obj in profile.objects:
            assert obj.redfish is not None
            by_resource.setdefault(obj.redfish.resource, []).append(obj)
        uris = await self._resolve(name, target, list(by_resource))
        readings: list[Reading] = []
        unreadable: list[Unreadable] = []
        for resource, objects in by_resource.items():
            found = uris.get(resource)
            if not found:
                if all(o.optional for o in objects):
                    continue
                raise RedfishProtocolError(
                    f"{target}: no chassis links a {resource} resource: {', '.join(o.quantity for o in objects)} "
                    f"not read (is profile {profile.name!r} right for this BMC?)"
                )
            for member, uri in found:
                try:
                    body = await self.client.get(target, uri)
                except RedfishProtocolError:
                    self._uris.pop(name, None)  # a 404 after a firmware update: resolve again next poll
                    raise
                got, bad = decode_resource(str(target), profile, objects, uri, body, member)
                readings += got
                unreadable += bad
        if not readings:
            raise RedfishProtocolError(
                f"{target}: no object of profile {profile.name!r} could be read: "
                + "; ".join(u.problem for u in unreadable[:5])
            )
        return DeviceReadout(tuple(readings), tuple(u.problem for u in unreadable), tuple(unreadable))

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        return None  # Redfish profiles declare no writable setpoints (agent.devices.profiles refuses them)

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        raise DeviceRefusedError(f"devices({device.name}): Redfish setpoint writes are not supported")

    async def close(self) -> None:
        await self.client.close()
