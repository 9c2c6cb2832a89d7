"""Which profile a device is: sysObjectID and sysDescr, then each profile's probes, then the standard-MIB fallbacks.

Detection runs once per device (``pue-agent read`` without ``--profile``, ``discover``, ``onboard``); a device
no profile detects gets a :class:`NoProfileError` that says what it answered and how to draft a profile.
Reading a device through its profile is :func:`agent.devices.readings.read_device`.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.devices.profiles import Profile, ProfileRegistry
from agent.devices.snmp.seam import SnmpClient, SnmpTarget
from agent.errors import ProfileError, SnmpError

__all__ = [
    "STANDARD_MIBS",
    "SYS_DESCR_OID",
    "SYS_OBJECT_ID_OID",
    "NoProfileError",
    "detect_profile",
    "standard_mibs_answering",
]

SYS_DESCR_OID = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID_OID = "1.3.6.1.2.1.1.2.0"


async def _answers(client: SnmpClient, target: SnmpTarget, profile: Profile, present: set[str] | None = None) -> bool:
    """Whether the device has the object (``requires_oid``) and the table rows (``requires_column``)
    the profile's detection asks for (``present``: requires_oid objects already known to answer)."""
    detect = profile.detect
    if detect.requires_oid is not None:
        if present is not None:
            if detect.requires_oid not in present:
                return False
        elif (await client.get(target, [detect.requires_oid]))[0].missing:
            return False
    if detect.requires_column is not None:
        rows = await client.walk(target, [detect.requires_column], 10)
        if not any(not v.missing for v in rows.get(detect.requires_column, [])):
            return False
    return True


async def detect_profile(client: SnmpClient, target: SnmpTarget, registry: ProfileRegistry) -> Profile:
    """Identify a device: sysObjectID/sysDescr first, then probe each profile's ``requires_oid``, then the
    standard-MIB fallbacks (``detect.fallback``) in rank order: a vendor profile always wins over them."""
    values = await client.get(target, [SYS_OBJECT_ID_OID, SYS_DESCR_OID])
    raw_oid = values[0].value
    sys_oid = (raw_oid.decode("ascii", "replace") if isinstance(raw_oid, bytes) else str(raw_oid or "")).strip()
    sys_oid = sys_oid.lstrip(".")  # a few agents send sysObjectID as an OCTET STRING ".1.3.6..."
    raw_descr = values[1].value
    sys_descr = raw_descr.decode("utf-8", "replace") if isinstance(raw_descr, bytes) else str(raw_descr or "")
    candidates = []
    for name in registry.names():
        profile = registry[name]
        if profile.detect.fallback is not None:
            continue
        score = profile.matches(sys_oid, sys_descr)
        candidates.append((score, name, profile))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    for score, _name, profile in candidates:
        if score == 0:
            break
        if profile.detect.requires_oid is None and profile.detect.requires_column is None:
            return profile
        if await _answers(client, target, profile):
            return profile
    # every vendor probe in one batched GET (a few requests, not one per profile), then in score/name order
    probed = [p for _s, _n, p in candidates if p.detect.requires_oid is not None or p.detect.requires_column]
    oids = sorted({p.detect.requires_oid for p in probed if p.detect.requires_oid is not None})
    present = (
        {oid for oid, v in zip(oids, await client.get(target, oids), strict=True) if not v.missing} if oids else set()
    )
    for profile in probed:
        if await _answers(client, target, profile, present):
            return profile
    for profile in registry.fallbacks():
        if await _answers(client, target, profile):
            return profile
    answered = await standard_mibs_answering(client, target)
    raise NoProfileError(target, sys_oid, sys_descr, answered, registry.names())


#: standard MIBs a "no profile" error reports on: name, subtree, scalars to GET, a column to walk (rows counted)
STANDARD_MIBS: tuple[tuple[str, str, tuple[str, ...], str | None, str], ...] = (
    (
        "UPS-MIB",
        "1.3.6.1.2.1.33",
        (
            "1.3.6.1.2.1.33.1.1.1.0",  # UPS-MIB::upsIdentManufacturer.0
            "1.3.6.1.2.1.33.1.1.2.0",  # UPS-MIB::upsIdentModel.0
            "1.3.6.1.2.1.33.1.2.1.0",  # UPS-MIB::upsBatteryStatus.0
            "1.3.6.1.2.1.33.1.4.1.0",
        ),  # UPS-MIB::upsOutputSource.0
        None,
        "",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "1.3.6.1.2.1.99",
        (),
        "1.3.6.1.2.1.99.1.1.1.1",
        "sensors",
    ),  # ENTITY-SENSOR-MIB::entPhySensorType
    (
        "ENTITY-MIB",
        "1.3.6.1.2.1.47",
        (),
        "1.3.6.1.2.1.47.1.1.1.1.5",
        "physical entities",
    ),  # ENTITY-MIB::entPhysicalClass
)


async def standard_mibs_answering(client: SnmpClient, target: SnmpTarget) -> dict[str, str | None]:
    """Which standard MIBs a device answers: name -> what answered ("subtree, N rows"), or None.

    Costs one GET and a walk of one column per MIB (the number of sensors or entities, not the whole
    table); a device that does not answer a probe is reported as not answering, never as an error.
    """
    found: dict[str, str | None] = {}
    for name, subtree, scalars, column, rows_are in STANDARD_MIBS:
        seen: str | None = None
        try:
            if scalars and any(not v.missing for v in await client.get(target, scalars)):
                seen = subtree
            elif column is not None:
                rows = [v for v in (await client.walk(target, [column], 25)).get(column, []) if not v.missing]
                if rows:
                    seen = f"{subtree}, {len(rows)} {rows_are}"
        except SnmpError:
            seen = None
        found[name] = seen
    return found


class NoProfileError(ProfileError):
    """No profile detects a device: what it answered, and the command that drafts a profile for it."""

    def __init__(
        self,
        target: SnmpTarget,
        sys_object_id: str,
        sys_descr: str,
        standard_mibs: Mapping[str, str | None],
        known: list[str],
    ) -> None:
        self.sys_object_id = sys_object_id
        self.sys_descr = sys_descr
        self.standard_mibs = dict(standard_mibs)
        address = f"udp://{target.host}:{target.port}"
        answered = [f"{name} ({what})" for name, what in standard_mibs.items() if what]
        silent = [f"{name} ({subtree})" for name, subtree, *_ in STANDARD_MIBS if not standard_mibs.get(name)]
        descr = " ".join(sys_descr.split())
        lines = [
            f"no profile detects the device at {address}: sysObjectID {sys_object_id or '?'}, sysDescr {descr[:120]!r}",
            f"  standard MIBs that answered: {', '.join(answered) or 'none'}; silent: {', '.join(silent) or 'none'}",
            "  draft a profile from the device (same credential options as this command), then try it:",
            f"    pue-agent profile draft --address {address} --out draft-profiles/device.yaml",
            f"    pue-agent read {address} --profile-dir draft-profiles",
            f"  or pass --profile NAME (known: {', '.join(known)})",
        ]
        super().__init__("\n".join(lines))
