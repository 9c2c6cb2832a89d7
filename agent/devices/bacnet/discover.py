"""BACnet discovery: Who-Is, a device's object-list, and a draft profile of its analog and binary objects.

``python -m agent.devices.bacnet.discover HOST[:PORT]`` lists the devices answering a Who-Is sent to that
address (a device's own address, or a subnet's broadcast address), reads each device's objectList and the
objectName and units of its analog, binary and multi-state objects, and prints a draft profile: every object
as a comment, those whose units say what they measure (kilowatts, degrees-celsius, ...) with a guessed
quantity. A draft is a start for a person with the point list in hand, never a profile to ship unread:
the guesses carry ``# DRAFT`` and writable setpoints are left out (bounds come from the document).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.devices.bacnet.client import BacnetTarget, Bacpypes3Client

__all__ = ["DiscoveredDevice", "discover", "draft_profile"]

#: object types a profile can read
READABLE = ("analog-input", "analog-output", "analog-value", "binary-input", "binary-output", "binary-value")
READABLE_MS = ("multi-state-input", "multi-state-output", "multi-state-value")

#: units that say what an analog object measures: (quantity, scale to the canonical unit, valid_max)
_GUESS: dict[str, tuple[str, float, float | None]] = {
    "kilowatts": ("active_power_w", 1000.0, 10_000_000.0),
    "watts": ("active_power_w", 1.0, 10_000_000.0),
    "megawatts": ("active_power_w", 1_000_000.0, 10_000_000.0),
    "kilowatt-hours": ("energy_j", 3_600_000.0, None),
    "degrees-celsius": ("supply_air_temp_c", 1.0, 80.0),
    "percent-relative-humidity": ("relative_humidity_ratio", 0.01, 1.0),
    "volts": ("voltage_v", 1.0, 1000.0),
    "amperes": ("current_a", 1.0, 10_000.0),
    "hertz": ("frequency_hz", 1.0, 70.0),
}


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    address: str
    instance: int
    objects: tuple[tuple[str, int, str | None, str | None], ...]  # type, instance, objectName, units


async def discover(host: str, port: int, timeout_s: float = 2.0) -> list[DiscoveredDevice]:
    """Who-Is to ``host:port``, then each answering device's readable objects with names and units."""
    client = Bacpypes3Client()
    try:
        found = []
        for address, instance in await client.who_is(host, port, timeout_s):
            dev_host, _, dev_port = address.partition(":")
            target = BacnetTarget(dev_host, int(dev_port or 47808), timeout_s, 1)
            objects = [o for o in await client.object_list(target, instance) if o[0] in READABLE + READABLE_MS]
            described = await client.names_and_units(target, objects)
            found.append(
                DiscoveredDevice(
                    address,
                    instance,
                    tuple((t, i, *described.get(f"{t},{i}", (None, None))) for t, i in objects),
                )
            )
        return found
    finally:
        await client.close()


def draft_profile(name: str, device: DiscoveredDevice, kinds: Mapping[str, str] | None = None) -> str:
    """A draft profile YAML for one discovered device (pure; module docstring)."""
    lines = [
        f"# DRAFT from `python -m agent.devices.bacnet.discover` of device {device.instance} at {device.address}:",
        "# check every object against the vendor's point list (PICS / integration guide) before use.",
        f"name: {name}",
        f"description: DRAFT BACnet device {device.instance}",
        "source: >-",
        "  DRAFT: discovered objects (objectName and units as the device reported them); name the point list",
        "  document and version here once checked.",
        f"kind: {(kinds or {}).get('kind', 'cooling_unit')}",
        "protocol: bacnet",
        "objects:",
    ]
    guessed = 0
    for object_type, instance, object_name, units in device.objects:
        what = f"{object_type},{instance} {object_name or '(no name)'} ({units or 'no units'})"
        guess = _GUESS.get(units or "")
        if guess is None or not object_type.startswith("analog"):
            lines.append(f"  # - {what}")
            continue
        quantity, scale, valid_max = guess
        guessed += 1
        lines.append(f"  - quantity: {quantity}   # DRAFT: guessed from the units")
        lines.append(f"    bacnet: {{object_type: {object_type}, instance: {instance}, units: {units}}}   # {what}")
        if scale != 1.0:
            lines.append(f"    scale: {scale:g}")
        lines.append("    valid_min: 0" if quantity in ("energy_j", "active_power_w") else "    valid_min: -40")
        if valid_max is not None:
            lines.append(f"    valid_max: {valid_max:g}")
    if not guessed:
        lines.append("  []  # no object's units say what it measures: map them by hand")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", help="HOST[:PORT] to send Who-Is to (port 47808 unless given)")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for I-Am and each answer")
    ap.add_argument("--name", default="discovered-bacnet", help="profile name of the draft")
    args = ap.parse_args(argv)
    host, _, port = args.address.partition(":")
    devices = asyncio.run(discover(host, int(port or 47808), args.timeout))
    if not devices:
        print(f"no I-Am from {args.address} within {args.timeout:g} s", file=sys.stderr)
        return 1
    for device in devices:
        print(f"# device {device.instance} at {device.address}: {len(device.objects)} readable object(s)")
        for object_type, instance, object_name, units in device.objects:
            print(f"#   {object_type},{instance}  {object_name or '-'}  {units or '-'}")
        print(draft_profile(args.name if len(devices) == 1 else f"{args.name}-{device.instance}", device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
