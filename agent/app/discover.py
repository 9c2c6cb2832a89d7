"""``pue-agent discover``: onboard a site from the addresses the operator names, never more.

Each address (or CIDR block, capped at /22 unless ``allow_large``) is asked for sysObjectID and sysDescr
with each given credential in turn; the first that answers is kept (by name, never by value). A device a
profile detects is read once and its key readings reported (total power, energy, temperatures); a
device none detects reports what answered (sysObjectID, sysDescr, which standard MIBs) and the
``profile draft`` command to run. :func:`render_devices` writes a draft ``devices:`` section for the site
config, with a comment on every guess.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.devices.profiles import ProfileRegistry
from agent.devices.readings import read_device
from agent.devices.snmp.detect import (
    SYS_DESCR_OID,
    SYS_OBJECT_ID_OID,
    NoProfileError,
    detect_profile,
    standard_mibs_answering,
)
from agent.devices.snmp.seam import SnmpClient, SnmpTarget, V2cAuth, V3Auth
from agent.errors import ProfileError, SnmpError, UsageError

__all__ = [
    "Credential",
    "DiscoveredDevice",
    "discover",
    "parse_addresses",
    "probe_standard_mibs",
    "render_devices",
    "render_table",
]

#: largest block a CIDR may name without ``--allow-large`` (1,024 addresses)
MAX_PREFIX_WITHOUT_ALLOW = 22

#: display names of the standard MIBs :func:`agent.devices.snmp.detect.standard_mibs_answering` probes
STANDARD_MIB_NAMES = {
    "UPS-MIB": "UPS-MIB (RFC 1628)",
    "ENTITY-SENSOR-MIB": "ENTITY-SENSOR-MIB (RFC 3433)",
    "ENTITY-MIB": "ENTITY-MIB (RFC 6933)",
}

_TEMPERATURES = ("rack_inlet_temp_c", "supply_air_temp_c", "return_air_temp_c", "ambient_temp_c", "outdoor_temp_c")


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential to try, known by ``name`` in the output; its secrets stay in ``auth``."""

    name: str
    auth: V2cAuth | V3Auth


@dataclass(slots=True)
class DiscoveredDevice:
    host: str
    port: int
    credentials: str | None = None
    sys_object_id: str = ""
    sys_descr: str = ""
    profile: str | None = None
    kind: str | None = None
    power_w: float | None = None
    energy_j: float | None = None
    temperatures_c: dict[str, float] = field(default_factory=dict)
    standard_mibs: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_addresses(
    items: Iterable[str], *, default_port: int = 161, allow_large: bool = False
) -> list[tuple[str, int]]:
    """``HOST``, ``HOST:PORT``, ``A.B.C.D/N`` (every host address of the block) -> (host, port) pairs.

    Raises
    ------
    UsageError
        a malformed item, or a block larger than /22 without ``allow_large``.
    """
    out: list[tuple[str, int]] = []
    for raw in items:
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        port = default_port
        m = re.fullmatch(r"(.+?):(\d{1,5})", item)
        if m and item.count(":") == 1:
            item, port = m.group(1), int(m.group(2))
            if not 1 <= port <= 65535:
                raise UsageError(f"{raw!r}: port must be 1-65535")
        if "/" in item:
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError as err:
                raise UsageError(f"{raw!r}: {err}") from None
            if net.prefixlen < (MAX_PREFIX_WITHOUT_ALLOW if net.version == 4 else 118) and not allow_large:
                raise UsageError(
                    f"{raw!r}: {net.num_addresses} addresses; the agent scans only what it is told, "
                    f"and a block larger than /{MAX_PREFIX_WITHOUT_ALLOW} needs --allow-large"
                )
            hosts = list(net.hosts()) or [net.network_address]
            out.extend((str(h), port) for h in hosts)
        else:
            if not re.fullmatch(r"[A-Za-z0-9.:_-]+", item):
                raise UsageError(f"{raw!r}: not an address")
            out.append((item, port))
    seen: set[tuple[str, int]] = set()
    return [a for a in out if not (a in seen or seen.add(a))]  # type: ignore[func-returns-value]


async def probe_standard_mibs(client: SnmpClient, target: SnmpTarget) -> list[str]:
    """The standard MIBs a device answers, by display name (the probes of
    :func:`agent.devices.snmp.detect.standard_mibs_answering`, the ones a "no profile" error reports)."""
    return _answered_names(await standard_mibs_answering(client, target))


def _answered_names(found: Mapping[str, str | None]) -> list[str]:
    return [STANDARD_MIB_NAMES.get(name, name) for name, what in found.items() if what]


async def discover_one(
    client: SnmpClient,
    host: str,
    port: int,
    credentials: Sequence[Credential],
    registry: ProfileRegistry,
    *,
    timeout_s: float = 2.0,
    retries: int = 1,
) -> DiscoveredDevice:
    """What answers at one address, with which credential, which profile, and its key readings."""
    found = DiscoveredDevice(host, port)
    target: SnmpTarget | None = None
    last_error = "no credentials given"
    for cred in credentials:
        candidate = SnmpTarget(host, port, cred.auth, timeout_s, retries)
        try:
            values = await client.get(candidate, [SYS_OBJECT_ID_OID, SYS_DESCR_OID])
        except SnmpError as err:
            last_error = str(err)
            continue
        target, found.credentials = candidate, cred.name
        found.sys_object_id = str(values[0].value or "").lstrip(".")
        raw = values[1].value
        found.sys_descr = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")).strip()
        break
    if target is None:
        found.problem = f"no answer ({last_error})"
        return found
    try:
        profile = await detect_profile(client, target, registry)
    except NoProfileError as err:  # it has already asked the standard MIBs
        found.standard_mibs = _answered_names(err.standard_mibs)
        found.problem = "no profile detects it"
        return found
    except ProfileError:
        found.standard_mibs = await probe_standard_mibs(client, target)
        found.problem = "no profile detects it"
        return found
    except SnmpError as err:
        found.problem = f"detection failed: {err}"
        return found
    found.profile, found.kind = profile.name, profile.kind
    try:
        readout = await read_device(client, target, profile)
    except SnmpError as err:
        found.problem = f"read failed: {err}"
        return found
    power = [r.value for r in readout.readings if r.quantity == "active_power_w"]
    energy = [r.value for r in readout.readings if r.quantity == "energy_j"]
    found.power_w = math.fsum(power) if power else None
    found.energy_j = math.fsum(energy) if energy else None
    for r in readout.readings:
        if r.quantity in _TEMPERATURES:
            key = r.quantity + ("{" + ",".join(f"{k}={v}" for k, v in r.labels) + "}" if r.labels else "")
            found.temperatures_c[key] = r.value
    if readout.problems:
        found.problem = f"{len(readout.problems)} object(s) unreadable, e.g. {readout.problems[0]}"
    return found


async def discover(
    client: SnmpClient,
    addresses: Sequence[tuple[str, int]],
    credentials: Sequence[Credential],
    registry: ProfileRegistry,
    *,
    concurrency: int = 16,
    timeout_s: float = 2.0,
    retries: int = 1,
    progress: Callable[[DiscoveredDevice], None] | None = None,
) -> list[DiscoveredDevice]:
    """Discover every address, at most ``concurrency`` at once; results in the order given."""
    gate = asyncio.Semaphore(concurrency)

    async def one(host: str, port: int) -> DiscoveredDevice:
        async with gate:
            result = await discover_one(client, host, port, credentials, registry, timeout_s=timeout_s, retries=retries)
        if progress is not None:
            progress(result)
        return result

    return list(await asyncio.gather(*(one(h, p) for h, p in addresses)))


def draft_command(device: DiscoveredDevice) -> str:
    cred = (
        "--community COMMUNITY"
        if device.credentials is None or device.credentials.startswith("community")
        else "--v3-user USER --auth-protocol ... --auth-key ... --priv-protocol ... --priv-key ..."
    )
    name = re.sub(r"[^a-z0-9]+", "-", device.host.lower()).strip("-")
    return (
        f"pue-agent profile draft --address {device.address} {cred} --mib-dir DIR --out draft-{name}-{device.port}.yaml"
    )


def render_table(devices: Sequence[DiscoveredDevice]) -> str:
    """One line per address, then for each device no profile detects what answered and what to run."""
    head = f"{'address':<22} {'profile':<26} {'role':<19} {'power W':>10} {'energy kWh':>12}  temperatures degC"
    lines = [head]
    for d in devices:
        temps = ", ".join(f"{k}={v:.1f}" for k, v in list(d.temperatures_c.items())[:3])
        if len(d.temperatures_c) > 3:
            temps += f", ... ({len(d.temperatures_c)})"
        power = "-" if d.power_w is None else f"{d.power_w:.0f}"
        energy = "-" if d.energy_j is None else f"{d.energy_j / 3.6e6:.1f}"
        profile = d.profile or ("(no answer)" if d.credentials is None else "(none)")
        lines.append(f"{d.address:<22} {profile:<26} {(d.kind or '-'):<19} {power:>10} {energy:>12}  {temps or '-'}")
    for d in devices:
        if d.profile is None and d.credentials is not None:
            lines.append(
                f"{d.address}: no profile: sysObjectID {d.sys_object_id or '?'}, sysDescr "
                f"{d.sys_descr[:60]!r}; standard MIBs answering: {', '.join(d.standard_mibs) or 'none'}"
            )
            lines.append(f"  draft one: {draft_command(d)}")
        elif d.problem:
            lines.append(f"{d.address}: {d.problem}")
    return "\n".join(lines)


def _device_name(d: DiscoveredDevice, taken: set[str]) -> str:
    stem = (d.kind or "device").replace("_", "-").replace("utility-meter", "meter")
    host = re.sub(r"[^A-Za-z0-9]+", "-", d.host).strip("-")
    name = f"{stem}-{host}" + (f"-{d.port}" if d.port != 161 else "")
    base, n = name[:60], 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def render_devices(devices: Sequence[DiscoveredDevice]) -> str:
    """A draft ``devices:`` section for the site config: detected devices as entries, the rest as comments."""
    lines = [
        "# Draft `devices:` section written by `pue-agent discover`: paste it into the site config.",
        "# Credentials are named, never written: define each name used below under `credentials:`.",
        "# Every `role` is a guess from the profile's kind (a meter may be renewable_meter or other_meter);",
        "# every `name` is a guess too: rename freely, then reference the devices in `topology:`.",
        "devices:",
    ]
    taken: set[str] = set()
    detected = [d for d in devices if d.profile is not None]
    for d in detected:
        name = _device_name(d, taken)
        lines.append(
            f"  - {{name: {name}, address: {d.address.rsplit(':', 1)[0]}, port: {d.port}, "
            f"credentials: {d.credentials}, profile: {d.profile}, role: {d.kind}}}"
        )
        descr = d.sys_descr.splitlines()[0][:60] if d.sys_descr else ""
        lines.append(f"    # guess: role from profile kind; sysDescr {descr!r}")
    if not detected:
        lines.append("  []   # no device was detected by a profile; see the comments below")
    for d in devices:
        if d.profile is not None:
            continue
        if d.credentials is None:
            lines.append(f"  # {d.address}: {d.problem} (not added)")
        else:
            lines.append(
                f"  # {d.address}: answered (sysObjectID {d.sys_object_id or '?'}) but no profile detects "
                f"it; draft one with"
            )
            lines.append(f"  #   {draft_command(d)}")
            lines.append(
                f"  # then add: {{name: ..., address: {d.host}, port: {d.port}, credentials: {d.credentials}, "
                "profile: DRAFT-NAME, role: ...}"
            )
    return "\n".join(lines) + "\n"


def read_address_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror or err}") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]
