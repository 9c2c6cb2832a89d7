"""The site config's cross-references (devices, credentials, profiles, topology), checked on the raw mapping.

Checked on the mapping as read, not on the validated model, so they are reported even beside schema errors.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.config.credentials import credentials_tag
from agent.devices.profiles import ProfileRegistry


def as_text(value: Any) -> str | None:
    """A reference as written, or None when it is not a string (the schema check reports that)."""
    return value if isinstance(value, str) else None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def cross_check(data: dict[str, Any], profiles: ProfileRegistry) -> list[str]:
    """Cross-references, checked on the raw mapping so they are reported even beside schema errors."""
    problems: list[str] = []
    creds = as_dict(data.get("credentials"))
    devices = (
        [d for d in data.get("devices") or [] if isinstance(d, dict)] if isinstance(data.get("devices"), list) else []
    )
    uses = Counter(str(d.get("name")) for d in devices)
    for dup in sorted(name for name, count in uses.items() if count > 1):
        problems.append(f"devices: device name {dup!r} used more than once")
    by_name = {str(d.get("name")): d for d in devices}
    for i, dev in enumerate(devices):
        where = f"devices[{i}]({dev.get('name')})"
        for key in ("credentials", "write_credentials"):
            ref = as_text(dev.get(key))
            if ref is not None and ref not in creds:
                problems.append(f"{where}.{key}: unknown credentials {ref!r}")
        read_ref, write_ref = dev.get("credentials"), dev.get("write_credentials")
        if isinstance(write_ref, str) and (
            write_ref == read_ref
            or same_principal(creds.get(read_ref) if isinstance(read_ref, str) else None, creds.get(write_ref))
        ):
            problems.append(
                f"{where}.write_credentials: must differ from the read credentials "
                "(another community or SNMPv3 user, read-only on the device for reads)"
            )
        profile = as_text(dev.get("profile"))
        if profile is not None and profile not in profiles:
            problems.append(f"{where}.profile: unknown profile {profile!r} (known: {', '.join(profiles.names())})")
        elif profile is not None:
            protocol = profiles[profile].protocol
            if protocol == "snmp" and dev.get("credentials") is None:
                problems.append(f"{where}.credentials: an SNMP device needs read credentials")
            if protocol != "bacnet" and dev.get("bacnet") is not None:
                problems.append(f"{where}.bacnet: belongs to a BACnet device (profile {profile!r} speaks {protocol})")
            if protocol == "bacnet" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks BACnet)")
            if protocol == "snmp" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks SNMP)")
            kind = credentials_tag(creds.get(read_ref)) if isinstance(read_ref, str) else None
            if protocol == "redfish" and read_ref is None:
                problems.append(f"{where}.credentials: a Redfish device needs credentials (protocol: redfish)")
            elif protocol == "redfish" and kind not in (None, "redfish"):
                problems.append(
                    f"{where}.credentials: {read_ref!r} are SNMP credentials; a Redfish device needs "
                    "protocol: redfish ones"
                )
            elif protocol == "snmp" and kind == "redfish":
                problems.append(
                    f"{where}.credentials: {read_ref!r} are Redfish credentials; profile {profile!r} speaks SNMP"
                )
            if protocol == "redfish" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks redfish)")
            if protocol == "redfish" and dev.get("write_credentials") is not None:
                problems.append(f"{where}.write_credentials: profile {profile!r} speaks redfish, which writes nothing")
            if protocol in ("modbus", "bacnet"):
                for key in ("credentials", "write_credentials"):
                    if dev.get(key) is not None:
                        problems.append(f"{where}.{key}: profile {profile!r} speaks {protocol}, which has no {key}")
    topo = as_dict(data.get("topology"))
    boundaries: list[tuple[str, Any, str]] = [(b, topo.get(b), "active_power_w") for b in ("facility", "it", "cooling")]
    boundaries += [(b.name, topo.get(b.name), b.power_quantity) for b in OPTIONAL_BOUNDARIES]
    for zone, spec in as_dict(topo.get("zones")).items():
        for part in ("it", "overhead"):
            boundaries.append((f"zones.{zone}.{part}", as_dict(spec).get(part), "active_power_w"))
    boundaries.append(("submeters", topo.get("submeters"), "active_power_w"))
    for boundary, terms, default_quantity in boundaries:
        first: dict[str, int] = {}  # device -> its first term in this boundary
        for j, term in enumerate(terms if isinstance(terms, list) else []):
            if not isinstance(term, dict):
                continue
            where = f"topology.{boundary}[{j}]"
            listed = as_text(term.get("device"))
            if listed is not None and boundary != "submeters":
                if listed in first:
                    problems.append(
                        f"{where}.device: {listed!r} is already topology.{boundary}[{first[listed]}]; "
                        "a device listed twice in one boundary counts its power and energy twice"
                    )
                first.setdefault(listed, j)
            if boundary != "facility" and term.get("energy_type") is not None:
                problems.append(
                    f"{where}.energy_type: only facility terms have an energy type (they partition the facility energy)"
                )
            if boundary == "submeters" and term.get("subsystem") is None and term.get("unit") is None:
                problems.append(f"{where}: a submeter needs a subsystem or a unit tag (else nothing reports it)")
            device = as_text(term.get("device"))
            if device is None or device not in by_name:
                problems.append(f"{where}.device: no device named {device!r}")
                continue
            profile = as_text(by_name[device].get("profile"))
            quantity = as_text(term.get("power_quantity", default_quantity))  # not a string: a schema error
            if (
                quantity is not None
                and profile in profiles
                and quantity not in {o.quantity for o in profiles[str(profile)].objects}
            ):
                problems.append(f"{where}.power_quantity: profile {profile!r} of {device!r} has no {quantity!r}")
    rec = as_dict(data.get("recommender"))
    if rec.get("mode") in ("approve", "auto"):
        for i, dev in enumerate(devices):
            profile = as_text(dev.get("profile"))
            if (
                profile in profiles
                and any(o.writable for o in profiles[str(profile)].objects)
                and dev.get("role") in ("cooling_unit", "chiller_plant")
                and not dev.get("write_credentials")
            ):
                problems.append(
                    f"devices[{i}]({dev.get('name')}).write_credentials: recommender mode "
                    f"{rec.get('mode')!r} writes setpoints and needs separate write credentials"
                )
    fac = {as_text(t.get("device")) for t in as_list(topo.get("facility")) if isinstance(t, dict)} - {None}
    it = {as_text(t.get("device")) for t in as_list(topo.get("it")) if isinstance(t, dict)} - {None}
    for both in sorted(str(d) for d in fac & it):
        problems.append(f"topology: {both!r} is in both facility and it")
    return problems


def same_principal(read: Any, write: Any) -> bool:
    """Two credential entries that the device cannot tell apart (same community, same v3 user)."""
    if not isinstance(read, dict) or not isinstance(write, dict):
        return False
    if read.get("version") == "3" and write.get("version") == "3":
        return bool(read.get("user")) and read.get("user") == write.get("user")
    if read.get("version") in ("1", "2c") and write.get("version") in ("1", "2c"):
        return read.get("community") is not None and read.get("community") == write.get("community")
    return False
